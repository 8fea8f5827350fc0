package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/plexusml/plexus/core/media"
)

// headLen is how much of a walked file listing reads to sniff it. A file no larger
// is read whole, so small files (most text, many images) cost one read in total;
// larger ones keep this head and read only the rest later.
const headLen = 8 << 10

// dirSource walks a directory depth-first in byte order of names, which makes the
// order and the ids (slash-separated paths relative to the root) the same on every
// run and every OS.
type dirSource struct {
	root  string
	opts  Options
	stack []dirFrame
	index int
	done  bool

	// With Options.Workers > 1, an enumerator goroutine walks and hands files to
	// workers that list them; Next takes the results in walk order from ordered.
	ordered chan *pending
	stop    chan struct{}
	wg      sync.WaitGroup
	closed  bool
	count   atomic.Int64 // items listed, for Len while the pipeline runs
}

// pending is one walk step on its way through the listing workers.
type pending struct {
	it   *Item
	full string
	err  error         // a walk error, which ends the source
	done chan struct{} // closed when it has been listed
}

type dirFrame struct {
	rel     string // directory relative to root, slash-separated, "" for the root
	entries []os.DirEntry
	next    int
}

func openDir(root string, opts Options) (*dirSource, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("open source %s: %w", root, err)
	}
	return &dirSource{root: root, opts: opts, stack: []dirFrame{{entries: entries}}}, nil
}

func (s *dirSource) Next(ctx context.Context) (*Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.closed {
		return nil, errors.New("dataset: Next on a closed source")
	}
	if s.opts.workers() <= 1 {
		it, full, err := s.walk()
		if err == io.EOF {
			s.done = true
		}
		if it != nil && full != "" {
			s.list(it, full)
		}
		return it, err
	}
	if s.ordered == nil {
		s.start()
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case p, ok := <-s.ordered:
		if !ok {
			s.done = true
			return nil, io.EOF
		}
		// Not cancellable: p has left the queue, and giving up now would lose it.
		// Listing one file is a stat and one small read.
		<-p.done
		if p.err != nil {
			return nil, p.err
		}
		return p.it, nil
	}
}

// start launches the enumerator and the listing workers. The enumerator owns the
// walk state; Close stops both and waits for them.
func (s *dirSource) start() {
	n := s.opts.workers()
	s.ordered = make(chan *pending, 4*n)
	s.stop = make(chan struct{})
	work := make(chan *pending, 4*n)
	s.wg.Add(n + 1)
	go func() {
		defer s.wg.Done()
		defer close(work)
		defer close(s.ordered)
		for {
			it, full, err := s.walk()
			if err == io.EOF {
				return
			}
			p := &pending{it: it, full: full, err: err, done: make(chan struct{})}
			if err != nil || full == "" {
				close(p.done) // nothing to list: a walk error or an item already failed
			}
			select {
			case s.ordered <- p:
			case <-s.stop:
				return
			}
			if err != nil {
				return
			}
			if full != "" {
				select {
				case work <- p:
				case <-s.stop:
					return
				}
			}
		}
	}()
	for i := 0; i < n; i++ {
		go func() {
			defer s.wg.Done()
			for p := range work {
				s.list(p.it, p.full)
				close(p.done)
			}
		}()
	}
}

// walk advances to the next regular file and returns its item, unlisted, with the
// file's path; full is "" when the item is already complete (it failed).
func (s *dirSource) walk() (*Item, string, error) {
	for len(s.stack) > 0 {
		top := &s.stack[len(s.stack)-1]
		if top.next == len(top.entries) {
			s.stack = s.stack[:len(s.stack)-1]
			continue
		}
		e := top.entries[top.next]
		top.next++
		name := e.Name()
		if !s.opts.Hidden && strings.HasPrefix(name, ".") {
			continue
		}
		rel := path.Join(top.rel, name)
		full := filepath.Join(s.root, filepath.FromSlash(rel))
		typ := e.Type()
		if typ&fs.ModeSymlink != 0 {
			// Links to files are followed; links to directories are not, which
			// rules out cycles without remembering every directory seen.
			st, err := os.Stat(full)
			if err != nil {
				it := s.item(rel)
				it.Err = it.errorf(nil, fmt.Errorf("broken symbolic link: %w", err))
				return it, "", nil
			}
			typ = st.Mode().Type()
		}
		switch {
		case typ.IsDir():
			if s.opts.Flat || e.Type()&fs.ModeSymlink != 0 {
				continue
			}
			entries, err := os.ReadDir(full)
			if err != nil {
				// One unreadable directory is reported like a bad file (its path is
				// the id) and the walk goes on with its siblings.
				it := s.item(rel)
				it.Err = it.errorf(nil, fmt.Errorf("cannot read directory: %w", err))
				return it, "", nil
			}
			s.stack = append(s.stack, dirFrame{rel: rel, entries: entries})
		case typ.IsRegular():
			if s.opts.Skip != nil && s.opts.Skip(rel) {
				s.index++
				s.count.Store(int64(s.index))
				continue
			}
			return s.item(rel), full, nil
		}
		// Devices, sockets and pipes are not data.
	}
	return nil, "", io.EOF
}

func (s *dirSource) item(rel string) *Item {
	it := &Item{ID: rel, Index: s.index, Source: s.root, opts: &s.opts}
	s.index++
	s.count.Store(int64(s.index))
	return it
}

// list sniffs a file: it reads the file's head (the whole file when small), decides
// its modality and checks the size limits.
func (s *dirSource) list(it *Item, full string) {
	it.Parts = make([]Part, 1)
	p := &it.Parts[0]
	p.Path, p.Name = full, it.ID
	f, err := os.Open(full)
	if err != nil {
		it.Err = it.errorf(p, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		it.Err = it.errorf(p, err)
		return
	}
	p.Size = st.Size()
	if p.Size == 0 {
		p.Modality = extModality(full)
		it.Modality = p.Modality
		it.Err = it.errorf(p, errors.New("empty file"))
		return
	}
	if err := s.opts.Limits.CheckBytes(p.Size); err != nil {
		p.Modality = extModality(full)
		it.Modality = p.Modality
		it.Err = it.errorf(p, withDetail(err, "file"))
		return
	}
	buf := make([]byte, min(p.Size, headLen))
	n, err := io.ReadFull(f, buf)
	if err != nil {
		it.Err = it.errorf(p, fmt.Errorf("read: %w", err))
		return
	}
	p.data, p.full = buf[:n], int64(n) == p.Size
	m, why := classify(full, p.data)
	p.Modality, it.Modality = m, m
	if m == "" {
		it.Err = it.errorf(p, errors.New(why))
		return
	}
	if m == Text && p.Size > s.opts.maxText() {
		it.Err = it.errorf(p, &media.LimitError{What: "bytes", Got: p.Size, Max: s.opts.maxText(), Detail: "text file", Setting: "the text size limit"})
	}
}

func withDetail(err error, detail string) error {
	var le *media.LimitError
	if errors.As(err, &le) {
		c := *le
		c.Detail = detail
		return &c
	}
	return err
}

// Len reports the items listed so far; the count is final once Next has returned io.EOF.
func (s *dirSource) Len() (int, bool) { return int(s.count.Load()), s.done }

// Close stops the walk and waits for its goroutines.
func (s *dirSource) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.stop != nil {
		close(s.stop)
		// Unblock workers waiting on results nobody will read.
		for range s.ordered {
		}
		s.wg.Wait()
	}
	s.stack = nil
	return nil
}

var _ Source = (*dirSource)(nil)
