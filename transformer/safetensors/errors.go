package safetensors

import "strconv"

// Error is the error of every operation of this package: which operation, on which file,
// about which tensor, and what went wrong. Err may wrap an os or io error (so
// errors.Is(err, fs.ErrNotExist) works on a missing file).
type Error struct {
	Op     string // "open", "read", "write" or "close"
	Path   string // the file as the caller named it
	Tensor string // the tensor concerned, or "" when the fault is not one tensor's
	Err    error  // what is wrong
}

// Error formats e as "safetensors OP PATH: tensor NAME: what is wrong", on one line: a
// NAME with a character that is not printable is quoted.
func (e *Error) Error() string {
	s := "safetensors " + e.Op + " " + e.Path + ": "
	if e.Tensor != "" {
		s += "tensor " + displayName(e.Tensor) + ": "
	}
	return s + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// displayName returns a tensor name or JSON key as messages show it: as it is, or quoted
// when it holds a character that is not printable, such as a newline, so that every
// message stays one line whatever a file names its tensors.
func displayName(name string) string {
	for _, r := range name {
		if !strconv.IsPrint(r) {
			return strconv.Quote(name)
		}
	}
	return name
}
