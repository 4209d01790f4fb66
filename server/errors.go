package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-data/strata/asset"
	"github.com/strata-data/strata/catalog"
)

// Status turns an error returned by the packages the handlers call into the
// gRPC status the API answers with. It is the one place where errors map to
// codes; handlers return Status(err).Err(), or call StatusError.
//
//   - nil is OK (a nil *status.Status).
//   - An error that already carries a gRPC status (one made with
//     status.Error, or any error in the chain with a GRPCStatus method) keeps it.
//   - Declaration problems (*asset.ValidationError, *asset.FieldError) are
//     InvalidArgument with a google.rpc.BadRequest detail holding one field
//     violation per problem, its field the path in the request, e.g.
//     "assets[3].deps[0].mapping.time_window.start_offset". The REST gateway
//     maps InvalidArgument to 400.
//   - Sentinel errors map by sentinelCode (context cancellation and deadline
//     today; the catalog's not-found and conflict sentinels go there too).
//   - Anything else is Internal, with the error's text as the message.
func Status(err error) *status.Status {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok {
		return st
	}
	if fes := asset.FieldErrors(err); len(fes) > 0 {
		return invalidArgument(err.Error(), fes)
	}
	if code, ok := sentinelCode(err); ok {
		return status.New(code, err.Error())
	}
	return status.New(codes.Internal, err.Error())
}

// StatusError is Status(err).Err(): nil for nil, else an error carrying the
// status, ready to return from a gRPC handler.
func StatusError(err error) error {
	return Status(err).Err()
}

// InvalidArgument returns an InvalidArgument status error for one problem
// with a request field, with the matching google.rpc.BadRequest detail. Use
// it for request fields outside declarations (a page_token that does not
// decode, a negative page_size):
//
//	return nil, server.InvalidArgument("page_size", "must not be negative, got %d", n)
func InvalidArgument(field, format string, args ...any) error {
	fe := &asset.FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
	return invalidArgument(fe.Error(), []*asset.FieldError{fe}).Err()
}

// sentinelCode maps sentinel errors of the domain packages to a gRPC code,
// matching with errors.Is so wrapped errors map too. This is the extension
// point for new sentinels: when a package gains one (catalog.ErrNotFound ->
// codes.NotFound, catalog.ErrConflict -> codes.AlreadyExists or Aborted, a
// precondition failure -> codes.FailedPrecondition), add a case here; the
// REST gateway then answers 404, 409 or 400 accordingly.
func sentinelCode(err error) (codes.Code, bool) {
	switch {
	case errors.Is(err, context.Canceled):
		return codes.Canceled, true
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded, true
	case errors.Is(err, catalog.ErrNotFound):
		return codes.NotFound, true
	case errors.Is(err, catalog.ErrAlreadyExists):
		return codes.AlreadyExists, true
	case errors.Is(err, catalog.ErrConflict):
		// Stale state (an expected revision, a lease): retry from a fresh read.
		return codes.Aborted, true
	case errors.Is(err, catalog.ErrInvalid):
		return codes.InvalidArgument, true
	case errors.Is(err, catalog.ErrSchemaTooNew), errors.Is(err, catalog.ErrCorrupt):
		return codes.FailedPrecondition, true
	}
	return codes.Unknown, false
}

// invalidArgument builds an InvalidArgument status with one BadRequest field
// violation per field error.
func invalidArgument(msg string, fes []*asset.FieldError) *status.Status {
	br := &errdetails.BadRequest{FieldViolations: make([]*errdetails.BadRequest_FieldViolation, 0, len(fes))}
	for _, fe := range fes {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       fe.Field,
			Description: violationDescription(fe),
		})
	}
	st := status.New(codes.InvalidArgument, msg)
	if withDetails, err := st.WithDetails(br); err == nil {
		st = withDetails
	}
	return st
}

// violationDescription is the problem, prefixed by the position in the
// source file when the declaration came from one.
func violationDescription(fe *asset.FieldError) string {
	if fe.File == "" && fe.Line <= 0 {
		return fe.Problem
	}
	pos := fe.File
	if fe.Line > 0 {
		if pos != "" {
			pos += ":"
		}
		pos += strconv.Itoa(fe.Line) + ":" + strconv.Itoa(fe.Column)
	}
	return pos + ": " + fe.Problem
}
