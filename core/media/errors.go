package media

import (
	"errors"
	"fmt"
)

// ErrFormat reports that the bytes are not in any format this package decodes.
var ErrFormat = errors.New("media: unknown format")

// ErrLimit is matched (errors.Is) by every *LimitError.
var ErrLimit = errors.New("media: over limit")

// FormatError reports malformed or unsupported content in a recognised format.
type FormatError struct {
	Format string // "wav", "jpeg", "png", ...
	Msg    string // what is wrong, lowercase
	Err    error  // the underlying decoder's error, if any
}

func (e *FormatError) Error() string {
	if e.Err != nil {
		if e.Msg == "" {
			return e.Format + ": " + e.Err.Error()
		}
		return e.Format + ": " + e.Msg + ": " + e.Err.Error()
	}
	return e.Format + ": " + e.Msg
}

func (e *FormatError) Unwrap() error { return e.Err }

// LimitError reports a payload that exceeds one of the Limits; Got and Max are in the
// unit that What names.
type LimitError struct {
	What string // "bytes", "pixels", "duration"
	Got  int64
	Max  int64
	// Detail adds context such as "30000x30000", shown before the numbers.
	Detail string
	// Setting names the limit to raise, for the hint at the end of the message;
	// "" names it generically ("the pixel limit").
	Setting string
}

func (e *LimitError) Error() string {
	setting := e.Setting
	switch e.What {
	case "pixels":
		return fmt.Sprintf("image is %s = %d pixels, over the limit of %d (raise %s to accept it)", e.Detail, e.Got, e.Max, or(setting, "the pixel limit"))
	case "duration":
		return fmt.Sprintf("audio lasts %s, over the limit of %s (raise %s to accept it)", fmtDur(e.Got), fmtDur(e.Max), or(setting, "the duration limit"))
	default:
		return fmt.Sprintf("%s is %d bytes, over the limit of %d (raise %s to accept it)", or(e.Detail, "payload"), e.Got, e.Max, or(setting, "the file size limit"))
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Is makes errors.Is(err, ErrLimit) true for every LimitError.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

func formatErr(format, msg string, args ...any) error {
	return &FormatError{Format: format, Msg: fmt.Sprintf(msg, args...)}
}
