package dataset

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// LedgerName is the ledger's file name inside the output directory.
const LedgerName = ".plexus-ledger"

// The ledger is a sequence of frames: a 4-byte little-endian payload length, the
// payload's CRC-32C, then the payload. The first frame is the header (kind 'H': a
// magic string and the pipeline hash); every later one is a commit (kind 'C': the ids
// committed and each sink's byte offset after them). A crash can only tear the last
// frame, which reading detects (short frame or bad CRC) and cuts off, so the ledger
// always ends on a whole commit, and the sink offsets in that commit describe exactly
// the items the ledger says are done.
const (
	ledgerMagic    = "plexus-ledger/1"
	frameHeaderLen = 8
	maxFrame       = 256 << 20 // far above any real commit; a torn length reads as garbage
	kindHeader     = 'H'
	kindCommit     = 'C'
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrPipelineChanged is matched (errors.Is) by the error OpenLedger returns when the
// ledger belongs to a different pipeline configuration.
var ErrPipelineChanged = errors.New("pipeline changed since the ledger was written")

// ChangedError says which ledger holds which hash.
type ChangedError struct {
	Path     string
	Old, New string
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("ledger %s: the pipeline or its weights changed since this output was started (hash %.12s, now %.12s); rerun with --restart to start over, or write to another output directory", e.Path, e.Old, e.New)
}

// Is makes errors.Is(err, ErrPipelineChanged) hold.
func (e *ChangedError) Is(target error) bool { return target == ErrPipelineChanged }

// Ledger is the append-only record of committed items that makes runs resumable: an
// item is committed only after every sink has durably written it, and one commit
// covers a whole group of items with one fsync.
type Ledger struct {
	path    string
	f       *os.File
	unlock  func()
	hash    string
	mu      sync.RWMutex // guards done and offsets: a reader asks Done while a committer commits
	done    map[string]struct{}
	offsets map[string]int64
	buf     []byte
	commits int
}

// LedgerOptions steer OpenLedger.
type LedgerOptions struct {
	// Hash identifies the effective pipeline (config and weights' digests).
	Hash string
	// Restart discards an existing ledger instead of refusing a changed hash.
	Restart bool
}

// OpenLedger opens or creates the ledger at path. An existing ledger with the same
// hash is read back (a torn last frame from a crash is cut off); one with another hash
// is refused with a *ChangedError unless o.Restart is set. The ledger is locked against
// a second run writing the same output at the same time.
func OpenLedger(path string, o LedgerOptions) (*Ledger, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	unlock, err := lockFile(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ledger %s: another plexus run is writing this output: %w", path, err)
	}
	l := &Ledger{path: path, f: f, unlock: unlock, hash: o.Hash, done: map[string]struct{}{}, offsets: map[string]int64{}}
	fail := func(err error) (*Ledger, error) {
		unlock()
		f.Close()
		return nil, err
	}
	good, oldHash, err := l.replay()
	switch {
	case err != nil && !o.Restart:
		return fail(fmt.Errorf("ledger %s: %w", path, err))
	case err == nil && good > 0 && oldHash != o.Hash && !o.Restart:
		return fail(&ChangedError{Path: path, Old: oldHash, New: o.Hash})
	}
	fresh := good == 0 || o.Restart || err != nil
	if fresh {
		l.done = map[string]struct{}{}
		l.offsets = map[string]int64{}
		l.commits = 0
		good = 0
	}
	if err := f.Truncate(good); err != nil {
		return fail(fmt.Errorf("ledger %s: cut torn tail: %w", path, err))
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		return fail(fmt.Errorf("ledger %s: %w", path, err))
	}
	if fresh {
		if err := l.append(kindHeader, append([]byte(ledgerMagic+"\n"), o.Hash...)); err != nil {
			return fail(err)
		}
		if err := syncDir(filepath.Dir(path)); err != nil {
			return fail(fmt.Errorf("ledger %s: %w", path, err))
		}
	}
	return l, nil
}

// replay reads every whole frame, filling done and offsets, and returns the length of
// the valid prefix and the header's hash.
func (l *Ledger) replay() (good int64, hash string, err error) {
	if _, err := l.f.Seek(0, io.SeekStart); err != nil {
		return 0, "", err
	}
	r := bufio.NewReaderSize(l.f, 1<<20)
	var hdr [frameHeaderLen]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return good, hash, nil // clean end or torn frame header
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		sum := binary.LittleEndian.Uint32(hdr[4:8])
		if n == 0 || n > maxFrame {
			return good, hash, nil
		}
		if cap(payload) < int(n) {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return good, hash, nil
		}
		if crc32.Checksum(payload, castagnoli) != sum {
			return good, hash, nil
		}
		switch payload[0] {
		case kindHeader:
			if good != 0 {
				return 0, "", fmt.Errorf("header frame at offset %d: the file is not a ledger this plexus wrote", good)
			}
			body := string(payload[1:])
			if len(body) < len(ledgerMagic)+1 || body[:len(ledgerMagic)+1] != ledgerMagic+"\n" {
				return 0, "", fmt.Errorf("not a plexus ledger (bad magic); move it away or pass --restart")
			}
			hash = body[len(ledgerMagic)+1:]
		case kindCommit:
			if good == 0 {
				return 0, "", fmt.Errorf("no header frame: the file is not a plexus ledger; move it away or pass --restart")
			}
			if err := l.applyCommit(payload[1:]); err != nil {
				// A frame with a good CRC but a bad body was written by another
				// version; refuse rather than guess.
				return 0, "", fmt.Errorf("commit at offset %d: %w", good, err)
			}
			l.commits++
		default:
			return 0, "", fmt.Errorf("unknown frame kind %q at offset %d", payload[0], good)
		}
		good += frameHeaderLen + int64(n)
	}
}

func (l *Ledger) applyCommit(b []byte) error {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return errors.New("bad id count")
	}
	b = b[k:]
	for i := uint64(0); i < n; i++ {
		s, rest, err := readString(b)
		if err != nil {
			return fmt.Errorf("id %d: %w", i, err)
		}
		l.done[s] = struct{}{}
		b = rest
	}
	m, k := binary.Uvarint(b)
	if k <= 0 {
		return errors.New("bad offset count")
	}
	b = b[k:]
	for i := uint64(0); i < m; i++ {
		name, rest, err := readString(b)
		if err != nil {
			return fmt.Errorf("sink %d: %w", i, err)
		}
		off, k := binary.Uvarint(rest)
		if k <= 0 {
			return fmt.Errorf("sink %q: bad offset", name)
		}
		l.offsets[name] = int64(off)
		b = rest[k:]
	}
	if len(b) != 0 {
		return fmt.Errorf("%d trailing bytes", len(b))
	}
	return nil
}

func readString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", nil, errors.New("truncated string")
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

// Path returns the ledger file's path.
func (l *Ledger) Path() string { return l.path }

// Done reports whether id was committed by this or an earlier run.
func (l *Ledger) Done(id string) bool {
	l.mu.RLock()
	_, ok := l.done[id]
	l.mu.RUnlock()
	return ok
}

// Len is the number of committed items.
func (l *Ledger) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.done)
}

// Commits is the number of commit frames, read back or written (one fsync each).
func (l *Ledger) Commits() int { return l.commits }

// Offset returns the byte offset sink name had reached at the last commit (0 if none).
func (l *Ledger) Offset(name string) int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.offsets[name]
}

// Commit durably records ids as done and the sinks' offsets after them: one write and
// one fsync for the whole group. The caller has already made the sinks durable up to
// those offsets. Commits must not run concurrently with each other.
func (l *Ledger) Commit(ids []string, offsets map[string]int64) error {
	b := l.buf[:0]
	b = append(b, kindCommit)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
	}
	names := make([]string, 0, len(offsets))
	for name := range offsets {
		names = append(names, name)
	}
	sort.Strings(names)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.AppendUvarint(b, uint64(offsets[name]))
	}
	l.buf = b
	if err := l.append(0, b); err != nil {
		return err
	}
	l.mu.Lock()
	for _, id := range ids {
		l.done[id] = struct{}{}
	}
	for name, off := range offsets {
		l.offsets[name] = off
	}
	l.commits++
	l.mu.Unlock()
	return nil
}

// append writes one frame (kind prefixed unless kind is 0, when payload carries it)
// and fsyncs.
func (l *Ledger) append(kind byte, payload []byte) error {
	body := payload
	if kind != 0 {
		body = append([]byte{kind}, payload...)
	}
	frame := make([]byte, frameHeaderLen, frameHeaderLen+len(body))
	putFrameHeader(frame, body)
	frame = append(frame, body...)
	if _, err := l.f.Write(frame); err != nil {
		return fmt.Errorf("ledger %s: write: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("ledger %s: fsync: %w", l.path, err)
	}
	return nil
}

// putFrameHeader writes body's length and CRC-32C into hdr[:frameHeaderLen].
func putFrameHeader(hdr, body []byte) {
	binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(body)))
	binary.LittleEndian.PutUint32(hdr[4:8], crc32.Checksum(body, castagnoli))
}

// Close releases the lock and closes the file.
func (l *Ledger) Close() error {
	if l.f == nil {
		return nil
	}
	l.unlock()
	err := l.f.Close()
	l.f = nil
	return err
}

// syncDir fsyncs a directory so a newly created or renamed entry in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
