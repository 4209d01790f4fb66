package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/strata-data/strata/asset"
)

// restBody wraps a REST request body: it bounds its size and carries the
// field problem found when the JSON does not decode, for restErrorHandler.
type restBody struct {
	io.ReadCloser
	limit    int
	fieldErr *asset.FieldError
}

// restLimits refuses REST bodies larger than the request limit.
func (s *Server) restLimits(next http.Handler) http.Handler {
	max := s.cfg.MaxRequestBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > int64(max) {
			writeRESTError(w, r, InvalidArgument("request", "request body is %d bytes, more than the limit of %d bytes", r.ContentLength, max))
			return
		}
		if r.Body != nil {
			r.Body = &restBody{ReadCloser: http.MaxBytesReader(w, r.Body, int64(max)), limit: max}
		}
		next.ServeHTTP(w, r)
	})
}

func writeRESTError(w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(err)
	b, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(st.Proto())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	_, _ = w.Write(b)
}

// restErrorHandler is the gateway's error handler: a body that did not
// decode is answered with the field it went wrong at.
func restErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if b, ok := r.Body.(*restBody); ok && b.fieldErr != nil && status.Code(err) == codes.InvalidArgument {
		err = InvalidArgument(b.fieldErr.Field, "%s", b.fieldErr.Problem)
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// jsonMarshaler is protobuf JSON with the proto field names; its decoder
// finds the field path of a value of the wrong type.
type jsonMarshaler struct {
	runtime.JSONPb
}

func (j *jsonMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		m, ok := v.(proto.Message)
		if !ok {
			return j.JSONPb.NewDecoder(r).Decode(v)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				fe := &asset.FieldError{Field: "request", Problem: fmt.Sprintf("request body is more than the limit of %d bytes", mbe.Limit)}
				if b, ok := r.(*restBody); ok {
					b.fieldErr = fe
				}
				return errors.New(fe.Problem)
			}
			return err
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return io.EOF
		}
		if err := j.UnmarshalOptions.Unmarshal(data, m); err != nil {
			field, problem := jsonProblem(m.ProtoReflect().Descriptor(), data)
			if problem == "" {
				problem = strings.TrimPrefix(err.Error(), "proto: ")
			}
			if b, ok := r.(*restBody); ok {
				b.fieldErr = &asset.FieldError{Field: field, Problem: problem}
			}
			return err
		}
		return nil
	})
}

// jsonProblem finds the first field of data (in key order) whose value
// does not fit md, and says why. An empty field means the body itself (not
// JSON, or not an object).
func jsonProblem(md protoreflect.MessageDescriptor, data []byte) (field, problem string) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "body", "not valid JSON: " + err.Error()
	}
	w := jsonWalker{}
	w.message(md, v, "")
	if w.problem == "" {
		return "body", ""
	}
	if w.field == "" {
		w.field = "body"
	}
	return w.field, w.problem
}

type jsonWalker struct {
	field, problem string
}

func (w *jsonWalker) fail(field, format string, args ...any) {
	if w.problem == "" {
		w.field, w.problem = field, fmt.Sprintf(format, args...)
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return "a value"
}

func (w *jsonWalker) message(md protoreflect.MessageDescriptor, v any, path string) {
	if w.problem != "" || v == nil {
		return
	}
	switch md.FullName() {
	case "google.protobuf.Value":
		return
	case "google.protobuf.Struct", "google.protobuf.Empty":
		if _, ok := v.(map[string]any); !ok {
			w.fail(path, "must be an object, not %s", jsonKind(v))
		}
		return
	case "google.protobuf.ListValue":
		if _, ok := v.([]any); !ok {
			w.fail(path, "must be a list, not %s", jsonKind(v))
		}
		return
	case "google.protobuf.Timestamp", "google.protobuf.Duration":
		if _, ok := v.(string); !ok {
			w.fail(path, "must be a string, not %s", jsonKind(v))
		}
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		w.fail(path, "must be an object, not %s", jsonKind(v))
		return
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fields := md.Fields()
	for _, k := range keys {
		fd := fields.ByJSONName(k)
		if fd == nil {
			fd = fields.ByName(protoreflect.Name(k))
		}
		if fd == nil {
			w.fail(join(path, k), "unknown field %q", k)
			return
		}
		w.field1(fd, obj[k], join(path, string(fd.Name())))
	}
}

func (w *jsonWalker) field1(fd protoreflect.FieldDescriptor, v any, path string) {
	if w.problem != "" || v == nil {
		return
	}
	switch {
	case fd.IsMap():
		obj, ok := v.(map[string]any)
		if !ok {
			w.fail(path, "must be an object, not %s", jsonKind(v))
			return
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			w.single(fd.MapValue(), obj[k], mapKey(path, k))
		}
	case fd.IsList():
		list, ok := v.([]any)
		if !ok {
			w.fail(path, "must be a list, not %s", jsonKind(v))
			return
		}
		for i, e := range list {
			w.single(fd, e, index(path, i))
		}
	default:
		w.single(fd, v, path)
	}
}

func (w *jsonWalker) single(fd protoreflect.FieldDescriptor, v any, path string) {
	if w.problem != "" || v == nil {
		return
	}
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		w.message(fd.Message(), v, path)
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			w.fail(path, "must be a boolean, not %s", jsonKind(v))
		}
	case protoreflect.StringKind, protoreflect.BytesKind:
		if _, ok := v.(string); !ok {
			w.fail(path, "must be a string, not %s", jsonKind(v))
		}
	case protoreflect.EnumKind:
		switch x := v.(type) {
		case string:
			if fd.Enum().Values().ByName(protoreflect.Name(x)) == nil {
				w.fail(path, "unknown value %q of %s", x, fd.Enum().Name())
			}
		case json.Number:
		default:
			w.fail(path, "must be a string naming a %s value, not %s", fd.Enum().Name(), jsonKind(v))
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		switch x := v.(type) {
		case json.Number:
		case string:
			if _, err := strconv.ParseFloat(x, 64); err != nil && x != "NaN" && x != "Infinity" && x != "-Infinity" {
				w.fail(path, "must be a number, not %q", x)
			}
		default:
			w.fail(path, "must be a number, not %s", jsonKind(v))
		}
	default: // integers
		var s string
		switch x := v.(type) {
		case json.Number:
			s = x.String()
		case string:
			s = x
		default:
			w.fail(path, "must be an integer, not %s", jsonKind(v))
			return
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			w.fail(path, "must be an integer, not %q", s)
			return
		}
		if f != math.Trunc(f) {
			w.fail(path, "must be an integer, not %s", s)
			return
		}
		lo, hi := intRange(fd.Kind())
		if f < lo || f > hi {
			w.fail(path, "%s is out of range for %s", s, fd.Kind())
		}
	}
}

func intRange(k protoreflect.Kind) (float64, float64) {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return math.MinInt32, math.MaxInt32
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return 0, math.MaxUint32
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return 0, math.MaxUint64
	}
	return math.MinInt64, math.MaxInt64
}
