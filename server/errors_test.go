package server

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/strata-data/strata/asset"
	stratav1 "github.com/strata-data/strata/gen/strata/v1"
)

func TestStatusValidationError(t *testing.T) {
	t.Parallel()

	_, err := DeclsFromProto([]*stratav1.AssetDecl{
		{Key: "a"},
		{Key: "b", Compute: &stratav1.ComputeDecl{Timeout: "soon"}, Resources: &stratav1.ResourcesDecl{Memory: "lots"}},
	})
	if err == nil {
		t.Fatal("want a validation error")
	}
	// Wrapped, as a handler would receive it.
	st := Status(fmt.Errorf("apply assets: %w", err))
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code = %v, want InvalidArgument", st.Code())
	}
	violations := badRequest(t, st)
	want := []string{"assets[1].compute.timeout", "assets[1].resources.memory"}
	if len(violations) != len(want) {
		t.Fatalf("violations = %v, want fields %v", violations, want)
	}
	for i, v := range violations {
		if v.GetField() != want[i] {
			t.Errorf("violation %d field = %q, want %q", i, v.GetField(), want[i])
		}
		if v.GetDescription() == "" {
			t.Errorf("violation %d has no description", i)
		}
	}
}

func TestStatusFieldErrorWithPosition(t *testing.T) {
	t.Parallel()

	fe := &asset.FieldError{Field: "assets[0].key", Problem: "asset key is empty", File: "assets.yaml", Line: 3, Column: 5}
	st := Status(fe)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code = %v, want InvalidArgument", st.Code())
	}
	v := badRequest(t, st)
	if len(v) != 1 || v[0].GetField() != "assets[0].key" || v[0].GetDescription() != "assets.yaml:3:5: asset key is empty" {
		t.Errorf("violations = %v", v)
	}
}

func TestStatusCodes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"canceled", fmt.Errorf("list runs: %w", context.Canceled), codes.Canceled},
		{"deadline", fmt.Errorf("claim runs: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{"status kept", status.Error(codes.NotFound, "asset a not found"), codes.NotFound},
		{"wrapped status kept", fmt.Errorf("get asset: %w", status.Error(codes.AlreadyExists, "exists")), codes.AlreadyExists},
		{"other", errors.New("disk on fire"), codes.Internal},
		{"empty validation error", &asset.ValidationError{}, codes.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Status(tt.err).Code(); got != tt.want {
				t.Errorf("Status(%v).Code() = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	if Status(nil) != nil || StatusError(nil) != nil {
		t.Error("nil error must give a nil status and a nil error")
	}
}

func TestInvalidArgument(t *testing.T) {
	t.Parallel()

	err := InvalidArgument("page_size", "must not be negative, got %d", -1)
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		t.Fatalf("InvalidArgument gave %v", err)
	}
	if st.Message() != "page_size: must not be negative, got -1" {
		t.Errorf("message = %q", st.Message())
	}
	v := badRequest(t, st)
	if len(v) != 1 || v[0].GetField() != "page_size" || v[0].GetDescription() != "must not be negative, got -1" {
		t.Errorf("violations = %v", v)
	}
	// Status leaves it as it is.
	if Status(err).Code() != codes.InvalidArgument {
		t.Error("Status changed an InvalidArgument status error")
	}
}

func badRequest(t *testing.T, st *status.Status) []*errdetails.BadRequest_FieldViolation {
	t.Helper()
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			return br.GetFieldViolations()
		}
	}
	t.Fatalf("status %v has no BadRequest detail", st)
	return nil
}
