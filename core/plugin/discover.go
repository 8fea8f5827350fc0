package plugin

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// BinaryPrefix starts the name of every plugin binary: plexus-plugin-NAME is plugin
// NAME. Plugin directories often hold other programs (plexus itself in bin/), so the
// prefix is required there too.
const BinaryPrefix = "plexus-plugin-"

// Found is one discovered plugin.
type Found struct {
	Name string
	Path string
	// Args are passed to the binary (a plugin served by a subcommand of a larger
	// program, for instance).
	Args []string
	// Source is the directory it was found in, "PATH" or "added".
	Source string
}

func (f Found) cacheKey() string {
	st, err := os.Stat(f.Path)
	if err != nil {
		return f.Path
	}
	return fmt.Sprintf("%s|%s|%d|%d", f.Path, strings.Join(f.Args, " "), st.Size(), st.ModTime().UnixNano())
}

// Discover lists the plugins: those added explicitly, then the plexus-plugin-*
// executables of the configured directories, then those on PATH. The first of a name wins. A configured directory that does not
// exist is skipped (the default ~/.plexus/plugins often does not); one that cannot be
// read is reported, and the plugins found elsewhere are still returned.
func (h *Host) Discover() ([]Found, error) {
	h.mu.Lock()
	var out []Found
	seen := map[string]bool{}
	for _, f := range h.extra {
		f.Source = "added"
		out = append(out, f)
		seen[f.Name] = true
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	var errs []error
	for _, dir := range h.opts.Dirs {
		found, err := scanDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("plugins directory %s: %w", dir, err))
		}
		for _, f := range found {
			if !seen[f.Name] {
				seen[f.Name] = true
				out = append(out, f)
			}
		}
	}
	if !h.opts.SkipPATH {
		for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
			if dir == "" {
				continue
			}
			found, _ := scanDir(dir) // PATH entries that do not exist are normal
			for _, f := range found {
				if !seen[f.Name] {
					seen[f.Name] = true
					f.Source = "PATH"
					out = append(out, f)
				}
			}
		}
	}
	return out, errors.Join(errs...)
}

// Resolve finds the plugin called name.
func (h *Host) Resolve(name string) (Found, error) {
	h.mu.Lock()
	f, ok := h.extra[name]
	h.mu.Unlock()
	if ok {
		return f, nil
	}
	all, err := h.Discover()
	for _, f := range all {
		if f.Name == name {
			return f, nil
		}
	}
	where := strings.Join(h.opts.Dirs, ", ")
	if !h.opts.SkipPATH {
		where += " and " + BinaryPrefix + "* on PATH"
	}
	if err != nil {
		return Found{}, fmt.Errorf("plugin %q: %w (searched %s; %v)", name, ErrNotFound, where, err)
	}
	return Found{}, fmt.Errorf("plugin %q: %w (searched %s)", name, ErrNotFound, where)
}

func scanDir(dir string) ([]Found, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Found
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, BinaryPrefix) {
			continue
		}
		path := filepath.Join(dir, name)
		st, err := os.Stat(path) // follows symlinks
		if err != nil || !st.Mode().IsRegular() || !executable(st.Mode()) {
			continue
		}
		pname := strings.TrimPrefix(name, BinaryPrefix)
		if runtime.GOOS == "windows" {
			pname = strings.TrimSuffix(pname, ".exe")
		}
		if pname == "" {
			continue
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			abs = path
		}
		out = append(out, Found{Name: pname, Path: abs, Source: dir})
	}
	return out, nil
}

func executable(m fs.FileMode) bool {
	return runtime.GOOS == "windows" || m&0o111 != 0
}
