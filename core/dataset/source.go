// Package dataset reads the items a pipeline processes (directory walks, JSONL and CSV
// manifests) and writes what it produces (sinks, the resumable ledger).
// Sources list items cheaply and read a payload's bytes at most once, when asked.
package dataset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/plexusml/plexus/core/media"
)

// Modalities an Item can have; Mixed is a manifest row with several payloads.
const (
	Text   = string(media.ModalityText)
	Image  = string(media.ModalityImage)
	Audio  = string(media.ModalityAudio)
	Tensor = string(media.ModalityTensor)
	Mixed  = "mixed"
)

// Source yields a dataset's items in a stable order. It is not safe for concurrent
// use: one goroutine reads it and hands items on.
type Source interface {
	// Next returns the next item, or io.EOF after the last one. A problem with one
	// item (a missing file, a bad manifest row) comes back as an Item with Err set,
	// never as an error from Next; Next's own errors end the source.
	Next(ctx context.Context) (*Item, error)
	// Len returns the number of items when it is known (after the last one has been
	// listed), and false before that.
	Len() (int, bool)
	Close() error
}

// Options configure a source. The zero value walks recursively, skips dot-files and
// applies media's default limits.
type Options struct {
	// Limits bound each payload: MaxBytes is checked against a file's size when the
	// item is listed, MaxPixels and MaxDuration when it is decoded.
	Limits media.Limits
	// MaxTextBytes bounds text files and inline text; 0 means DefaultMaxTextBytes
	// and a negative value means no limit.
	MaxTextBytes int64
	// Flat lists only a directory's own files, not its subdirectories'.
	Flat bool
	// Hidden includes files and directories whose names start with a dot.
	Hidden bool
	// Skip, when set, is asked for each id before any of its bytes are read (a
	// resumed run passes the ledger's Done); skipped items are not returned but keep
	// their Index, so indices stay stable across runs. A directory walk with several
	// Workers calls it from its own goroutine, so it must be safe for concurrent use.
	Skip func(id string) bool
	// Workers is how many files a directory walk opens and sniffs at once, ahead of
	// Next; the order of items does not depend on it. 0 means GOMAXPROCS (at most
	// 8), 1 lists each file inside Next with no goroutines.
	Workers int
	// BaseDir is where a manifest's relative paths resolve; "" means the manifest's
	// own directory.
	BaseDir string
	// MaxRowBytes bounds one manifest row; 0 means DefaultMaxRowBytes.
	MaxRowBytes int
}

// Defaults for the Options fields whose zero value means "default".
const (
	DefaultMaxTextBytes = 16 << 20
	DefaultMaxRowBytes  = 16 << 20
)

func (o *Options) maxText() int64 {
	switch {
	case o.MaxTextBytes == 0:
		return DefaultMaxTextBytes
	case o.MaxTextBytes < 0:
		return 1<<63 - 1
	}
	return o.MaxTextBytes
}

func (o *Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return min(runtime.GOMAXPROCS(0), 8)
}

func (o *Options) maxRow() int {
	if o.MaxRowBytes <= 0 {
		return DefaultMaxRowBytes
	}
	return o.MaxRowBytes
}

// Open opens a directory (walked in sorted order), a .jsonl/.ndjson manifest or a
// .csv/.tsv manifest.
func Open(path string, opts Options) (Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open source: %w", err)
	}
	if st.IsDir() {
		return openDir(path, opts)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson":
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open source: %w", err)
		}
		return newJSONL(f, path, opts), nil
	case ".csv", ".tsv":
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open source: %w", err)
		}
		s, err := newCSV(f, path, opts)
		if err != nil {
			f.Close()
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("open source %s: want a directory, a .jsonl or a .csv manifest", path)
}

// Item is one unit of work. Listing an item reads at most a small head of its file
// (to sniff a walked file's modality); payload bytes are read by Bytes, Text, Image
// or Audio, once, and kept until Release. An Item is used by one goroutine at a time.
type Item struct {
	ID string
	// Index is the item's position in the source, counting skipped items too.
	Index int
	// Modality is text, image, audio, tensor or mixed (several parts); it may be ""
	// when Err is set.
	Modality string
	// Source is the walked directory or the manifest file.
	Source string
	// Line is the manifest line the row starts on; 0 for a directory walk.
	Line int
	// Parts holds the payloads: one for a walked file; for a manifest row, in the
	// order text, image, audio, tensor, each when present.
	Parts []Part
	// Fields holds a manifest row's other columns (JSON values, or strings for CSV);
	// nil when there are none.
	Fields map[string]any
	// Err is a problem found while listing; such an item must be reported, and its
	// payloads are not to be read.
	Err error

	opts *Options
}

// Part is one payload of an item.
type Part struct {
	Modality string
	// Path is the file that holds the payload; "" for inline manifest text.
	Path string
	// Name is the path as the manifest wrote it, or the walked file's id.
	Name string
	// Size is the file's size in bytes when listed.
	Size int64

	data []byte // the whole payload when full, else a head of it
	full bool
}

// InlinePart returns a part whose payload is b itself, for items built in code
// (tests, stages that emit new items).
func InlinePart(modality string, b []byte) Part {
	return Part{Modality: modality, Size: int64(len(b)), data: b, full: true}
}

// FilePart returns a part for the file at path, read on first use.
func FilePart(modality, path string) (Part, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Part{}, err
	}
	if !st.Mode().IsRegular() {
		return Part{}, fmt.Errorf("%s is not a regular file", path)
	}
	return Part{Modality: modality, Path: path, Name: path, Size: st.Size()}, nil
}

// ItemError is a per-item problem; its message starts with the file (and manifest
// line) so that a user can find the item.
type ItemError struct {
	ID   string
	File string // the item's file (walk) or the manifest
	Line int    // manifest line, 0 for a walk
	Part string // "image photos/a.jpg" for a manifest row's payload, else ""
	Err  error
}

func (e *ItemError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Part != "" {
		b.WriteString(e.Part)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ItemError) Unwrap() error { return e.Err }

// errorf builds an ItemError for it, about part p (nil for the row itself).
func (it *Item) errorf(p *Part, err error) *ItemError {
	e := &ItemError{ID: it.ID, File: it.Source, Line: it.Line, Err: err}
	if it.Line == 0 {
		if p != nil && p.Path != "" {
			e.File = p.Path
		} else {
			e.File = filepath.Join(it.Source, filepath.FromSlash(it.ID))
		}
	} else if p != nil && p.Name != "" {
		e.Part = p.Modality + " " + p.Name
	}
	return e
}

// Part returns the item's payload of modality m, or nil.
func (it *Item) Part(m string) *Part {
	for i := range it.Parts {
		if it.Parts[i].Modality == m {
			return &it.Parts[i]
		}
	}
	return nil
}

// ErrNoPart is wrapped by accessors asked for a modality the item does not have.
var ErrNoPart = errors.New("item has no such payload")

// Bytes returns the raw payload of modality m, reading its file on the first call.
func (it *Item) Bytes(m string) ([]byte, error) {
	if it.Err != nil {
		return nil, it.Err
	}
	p := it.Part(m)
	if p == nil {
		return nil, it.errorf(nil, fmt.Errorf("%w: %s", ErrNoPart, m))
	}
	if err := p.load(); err != nil {
		return nil, it.errorf(p, err)
	}
	return p.data, nil
}

// Text returns the item's text (inline, or its text file's contents without a UTF-8
// byte-order mark), checked to be valid UTF-8.
func (it *Item) Text() (string, error) {
	b, err := it.Bytes(Text)
	if err != nil {
		return "", err
	}
	if err := media.ValidateText(b); err != nil {
		return "", it.errorf(it.Part(Text), err)
	}
	return string(trimBOM(b)), nil
}

// Image decodes the item's image under the source's limits and returns it with its
// format (see media.DecodeImage).
func (it *Item) Image() (image.Image, string, error) {
	b, err := it.Bytes(Image)
	if err != nil {
		return nil, "", err
	}
	img, format, err := media.DecodeImageBytes(b, it.limits())
	if err != nil {
		if errors.Is(err, media.ErrFormat) {
			err = fmt.Errorf("not a JPEG, PNG, GIF, BMP, TIFF or WebP image (%w)", err)
		}
		return nil, format, it.errorf(it.Part(Image), err)
	}
	return img, format, nil
}

// Audio decodes the item's WAV audio under the source's limits.
func (it *Item) Audio() (*media.Audio, error) {
	b, err := it.Bytes(Audio)
	if err != nil {
		return nil, err
	}
	a, err := media.DecodeWAV(bytes.NewReader(b), it.limits())
	if err != nil {
		return nil, it.errorf(it.Part(Audio), err)
	}
	return a, nil
}

// Release drops the payload bytes read so far; a later accessor reads them again.
func (it *Item) Release() {
	for i := range it.Parts {
		if it.Parts[i].Path != "" {
			it.Parts[i].data, it.Parts[i].full = nil, false
		}
	}
}

func (it *Item) limits() media.Limits {
	if it.opts == nil {
		return media.Limits{}
	}
	return it.opts.Limits
}

// load makes p.data the whole payload, reading only the bytes not yet read.
func (p *Part) load() error {
	if p.full {
		return nil
	}
	f, err := os.Open(p.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() != p.Size {
		return fmt.Errorf("file changed size since it was listed (%d bytes, now %d)", p.Size, st.Size())
	}
	buf := make([]byte, p.Size)
	n := copy(buf, p.data)
	if m, err := f.ReadAt(buf[n:], int64(n)); m < len(buf)-n {
		return fmt.Errorf("read: %w", err)
	}
	p.data, p.full = buf, true
	return nil
}

func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf {
		return b[3:]
	}
	return b
}
