package asset

import (
	"fmt"
	"strings"
)

// Strftime is a compiled Python-style strftime format. It supports
// %Y %m %d %H %M %S %z %y %b %j and %%; any other text is literal.
// Formatting appends to a buffer without allocating more than the result;
// parsing is lenient about zero padding like Python's strptime ("2020-11-1"
// parses with "%Y-%m-%d").
type Strftime struct {
	src  string
	ops  []strfOp
	hasZ bool
}

type strfOp struct {
	verb byte // 0 for literal text
	lit  string
}

// StrftimeFields is a broken-down wall-clock time as read or written by a Strftime.
type StrftimeFields struct {
	Year, Month, Day     int
	Hour, Minute, Second int
	// Offset is the UTC offset in seconds; HasOffset says whether it was set
	// (by %z when parsing).
	Offset    int
	HasOffset bool
}

var strfMonthNames = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// CompileStrftime compiles a strftime format.
func CompileStrftime(format string) (*Strftime, error) {
	s := &Strftime{src: format}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			s.ops = append(s.ops, strfOp{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		if i+1 >= len(format) {
			return nil, fmt.Errorf("format %q ends with a lone %%", format)
		}
		i++
		v := format[i]
		switch v {
		case '%':
			lit.WriteByte('%')
		case 'Y', 'm', 'd', 'H', 'M', 'S', 'z', 'y', 'b', 'j':
			flush()
			s.ops = append(s.ops, strfOp{verb: v})
			if v == 'z' {
				s.hasZ = true
			}
		default:
			return nil, fmt.Errorf("format %q: unsupported directive %%%c (supported: %%Y %%m %%d %%H %%M %%S %%z %%y %%b %%j %%%%)", format, v)
		}
	}
	flush()
	return s, nil
}

// String returns the source format.
func (s *Strftime) String() string { return s.src }

// HasOffset reports whether the format contains %z.
func (s *Strftime) HasOffset() bool { return s.hasZ }

// Format formats dt.
func (s *Strftime) Format(dt StrftimeFields) string {
	var buf [64]byte
	return string(s.AppendFormat(buf[:0], dt))
}

// AppendFormat appends the formatted dt to b.
func (s *Strftime) AppendFormat(b []byte, dt StrftimeFields) []byte {
	for i := range s.ops {
		op := &s.ops[i]
		switch op.verb {
		case 0:
			b = append(b, op.lit...)
		case 'Y':
			y := dt.Year
			if y < 0 {
				b = append(b, '-')
				y = -y
			}
			if y < 1000 {
				b = strfPad(b, y, 4)
			} else {
				b = strfAppendUint(b, y)
			}
		case 'y':
			b = strfPad(b, ((dt.Year%100)+100)%100, 2)
		case 'm':
			b = strfPad(b, dt.Month, 2)
		case 'd':
			b = strfPad(b, dt.Day, 2)
		case 'H':
			b = strfPad(b, dt.Hour, 2)
		case 'M':
			b = strfPad(b, dt.Minute, 2)
		case 'S':
			b = strfPad(b, dt.Second, 2)
		case 'j':
			b = strfPad(b, strfYearDay(dt.Year, dt.Month, dt.Day), 3)
		case 'b':
			if dt.Month >= 1 && dt.Month <= 12 {
				b = append(b, strfMonthNames[dt.Month-1]...)
			}
		case 'z':
			b = strfAppendOffset(b, dt.Offset)
		}
	}
	return b
}

func strfAppendOffset(b []byte, off int) []byte {
	sign := byte('+')
	if off < 0 {
		sign = '-'
		off = -off
	}
	b = append(b, sign)
	b = strfPad(b, off/3600, 2)
	b = strfPad(b, off%3600/60, 2)
	if s := off % 60; s != 0 {
		b = strfPad(b, s, 2)
	}
	return b
}

func strfPad(b []byte, v, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for v >= 10 {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	i--
	tmp[i] = byte('0' + v)
	for n := len(tmp) - i; n < width; n++ {
		b = append(b, '0')
	}
	return append(b, tmp[i:]...)
}

func strfAppendUint(b []byte, v int) []byte { return strfPad(b, v, 1) }

func strfYearDay(y, m, d int) int {
	return int(cronDaysFromCivil(y, m, d)-cronDaysFromCivil(y, 1, 1)) + 1
}

// Parse parses str, which must match the whole format. Numeric fields take
// two digits when those form a valid value and one digit otherwise (%Y takes
// exactly four); missing date fields default to 1900-01-01 as in Python.
func (s *Strftime) Parse(str string) (StrftimeFields, error) {
	dt := StrftimeFields{Year: 1900, Month: 1, Day: 1}
	yday := -1
	pos := 0
	for i := range s.ops {
		op := &s.ops[i]
		if op.verb == 0 {
			if !strings.HasPrefix(str[pos:], op.lit) {
				return dt, fmt.Errorf("%q does not match format %q", str, s.src)
			}
			pos += len(op.lit)
			continue
		}
		var ok bool
		switch op.verb {
		case 'Y':
			dt.Year, pos, ok = strfDigits(str, pos, 4, 4, 0, 9999)
		case 'y':
			var y int
			y, pos, ok = strfDigits(str, pos, 2, 2, 0, 99)
			if y < 69 {
				dt.Year = 2000 + y
			} else {
				dt.Year = 1900 + y
			}
		case 'm':
			dt.Month, pos, ok = strfLenient(str, pos, 1, 12)
		case 'd':
			dt.Day, pos, ok = strfLenient(str, pos, 1, 31)
		case 'H':
			dt.Hour, pos, ok = strfLenient(str, pos, 0, 23)
		case 'M':
			dt.Minute, pos, ok = strfLenient(str, pos, 0, 59)
		case 'S':
			dt.Second, pos, ok = strfLenient(str, pos, 0, 59)
		case 'j':
			yday, pos, ok = strfDigits(str, pos, 1, 3, 1, 366)
		case 'b':
			if pos+3 <= len(str) {
				for mi, name := range strfMonthNames {
					if strings.EqualFold(str[pos:pos+3], name) {
						dt.Month, pos, ok = mi+1, pos+3, true
						break
					}
				}
			}
		case 'z':
			dt.Offset, pos, ok = strfParseOffset(str, pos)
			dt.HasOffset = ok
		}
		if !ok {
			return dt, fmt.Errorf("%q does not match format %q", str, s.src)
		}
	}
	if pos != len(str) {
		return dt, fmt.Errorf("%q does not match format %q: unconverted text %q", str, s.src, str[pos:])
	}
	if yday > 0 {
		days := cronDaysFromCivil(dt.Year, 1, 1) + int64(yday) - 1
		y, m, d := cronCivilFromDays(days)
		if y != dt.Year {
			return dt, fmt.Errorf("%q: day of year %d out of range", str, yday)
		}
		dt.Month, dt.Day = m, d
	}
	if dt.Day > cronDaysIn(dt.Year, dt.Month) {
		return dt, fmt.Errorf("%q: day %d is out of range for month %d", str, dt.Day, dt.Month)
	}
	return dt, nil
}

// strfDigits reads between minN and maxN digits (as many as possible) with
// a value in [lo, hi].
func strfDigits(s string, pos, minN, maxN, lo, hi int) (int, int, bool) {
	v, n := 0, 0
	for n < maxN && pos+n < len(s) && s[pos+n] >= '0' && s[pos+n] <= '9' {
		v = v*10 + int(s[pos+n]-'0')
		n++
	}
	if n < minN || v < lo || v > hi {
		return 0, pos, false
	}
	return v, pos + n, true
}

// strfLenient reads two digits when they form a value in [lo, hi], else one.
func strfLenient(s string, pos, lo, hi int) (int, int, bool) {
	if pos+1 < len(s) && strfIsDigit(s[pos]) && strfIsDigit(s[pos+1]) {
		v := int(s[pos]-'0')*10 + int(s[pos+1]-'0')
		if v >= lo && v <= hi {
			return v, pos + 2, true
		}
	}
	if pos < len(s) && strfIsDigit(s[pos]) {
		v := int(s[pos] - '0')
		if v >= lo && v <= hi {
			return v, pos + 1, true
		}
	}
	return 0, pos, false
}

func strfIsDigit(c byte) bool { return c >= '0' && c <= '9' }

// strfParseOffset reads Z or [+-]HH[:]MM[[:]SS].
func strfParseOffset(s string, pos int) (int, int, bool) {
	if pos < len(s) && s[pos] == 'Z' {
		return 0, pos + 1, true
	}
	if pos >= len(s) || (s[pos] != '+' && s[pos] != '-') {
		return 0, pos, false
	}
	neg := s[pos] == '-'
	p := pos + 1
	two := func() (int, bool) {
		if p+1 < len(s) && strfIsDigit(s[p]) && strfIsDigit(s[p+1]) {
			v := int(s[p]-'0')*10 + int(s[p+1]-'0')
			p += 2
			return v, true
		}
		return 0, false
	}
	h, ok := two()
	if !ok || h > 23 {
		return 0, pos, false
	}
	colon := p < len(s) && s[p] == ':'
	if colon {
		p++
	}
	m, ok := two()
	if !ok || m > 59 {
		return 0, pos, false
	}
	sec := 0
	if p < len(s) && ((colon && s[p] == ':') || (!colon && strfIsDigit(s[p]))) {
		save := p
		if colon {
			p++
		}
		if v, ok := two(); ok && v <= 59 {
			sec = v
		} else {
			p = save
		}
	}
	off := h*3600 + m*60 + sec
	if neg {
		off = -off
	}
	return off, p, true
}
