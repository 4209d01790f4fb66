package asset

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError names one problem in a declaration: the field path in the
// declaration's shape (for example assets[3].deps[0].mapping.time_window.start_offset),
// the problem, and where known the position in the source file.
type FieldError struct {
	Field   string // path of the field, e.g. "assets[0].partitions.time_window.timezone"
	Problem string // what is wrong, e.g. `unknown time zone "Mars/Base"`
	File    string // source file, when the declaration came from one
	Line    int    // 1-based line in File, 0 when unknown
	Column  int    // 1-based column in File, 0 when unknown
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" || e.Line > 0 {
		if e.File != "" {
			b.WriteString(e.File)
			b.WriteString(":")
		}
		switch {
		case e.Line > 0 && e.Column > 0:
			fmt.Fprintf(&b, "%d:%d: ", e.Line, e.Column)
		case e.Line > 0:
			fmt.Fprintf(&b, "%d: ", e.Line)
		default:
			b.WriteString(" ")
		}
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// ValidationError gathers every FieldError found in one validation pass, so a
// user sees all problems at once. It is returned as an error only when it
// holds at least one FieldError.
type ValidationError struct {
	Errors []*FieldError
}

func (e *ValidationError) Error() string {
	switch len(e.Errors) {
	case 0:
		return "invalid declaration"
	case 1:
		return e.Errors[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(e.Errors))
	for _, fe := range e.Errors {
		b.WriteString("\n  ")
		b.WriteString(fe.Error())
	}
	return b.String()
}

// Add records a problem at field.
func (e *ValidationError) Add(field, format string, args ...any) {
	e.Errors = append(e.Errors, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// Err returns e when it holds problems and nil otherwise.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Errors) == 0 {
		return nil
	}
	return e
}

// FieldErrors returns the field errors carried by err: those of a
// *ValidationError, or a single *FieldError, or nil.
func FieldErrors(err error) []*FieldError {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Errors
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return []*FieldError{fe}
	}
	return nil
}
