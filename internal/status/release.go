package status

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/release"
	"github.com/nixherd/nixherd/internal/rollout"
)

// Release is the release a publisher serves, as status shows it: read, not
// verified (the agents verify it; this is only shown).
type Release struct {
	// Manifest is where it was read.
	Manifest string    `json:"manifest"`
	Number   int64     `json:"number"`
	Time     time.Time `json:"time"`
	Revision string    `json:"revision,omitempty"`
	Dirty    bool      `json:"dirty,omitempty"`
	// Machines maps each machine of the release to its path.
	Machines map[string]string `json:"machines"`
}

// ReadRelease reads the release manifest at where (a URL, a file, or a
// directory destination of publish) and the rollout record beside it (nil
// when there is none).
func ReadRelease(ctx context.Context, where string) (*Release, *rollout.Record, error) {
	manifest := where
	if !isURL(where) {
		manifest = release.DestinationOf(where).Path
	} else if strings.HasSuffix(where, "/") {
		manifest = where + release.FileName
	}
	data, err := readAt(ctx, manifest, release.MaxSize)
	if err != nil {
		return nil, nil, fmt.Errorf("the release manifest: %w", err)
	}
	var rel *Release
	if data != nil {
		m, err := release.Peek(data)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", manifest, err)
		}
		rel = &Release{Manifest: manifest, Number: m.Release, Time: m.Time, Revision: m.Revision, Dirty: m.Dirty, Machines: map[string]string{}}
		for name, e := range m.Machines {
			rel.Machines[name] = e.Path
		}
	}
	data, err = readAt(ctx, rollout.RecordBeside(manifest), 4<<20)
	if err != nil || data == nil {
		return rel, nil, err
	}
	rec, err := rollout.DecodeRecord(data)
	return rel, rec, err
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

// readAt reads a file or a URL, at most limit bytes; nil when it does not
// exist.
func readAt(ctx context.Context, where string, limit int64) ([]byte, error) {
	var r io.ReadCloser
	if isURL(where) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Cache-Control", "no-cache")
		resp, err := agentClient.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusNotFound {
			resp.Body.Close()
			return nil, nil
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("GET %s: %s", where, resp.Status)
		}
		r = resp.Body
	} else {
		f, err := os.Open(filepath.Clean(where))
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		r = f
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("%s is larger than %d bytes", where, limit)
	}
	return data, err
}
