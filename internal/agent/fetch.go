package agent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/release"
)

// fetchTimeout bounds one fetch of the manifest.
const fetchTimeout = 30 * time.Second

var client = &http.Client{Timeout: fetchTimeout}

// fetch reads the signed manifest from an http(s) URL, or from a file
// (file:///path or /path: a manifest synced to the machine by other means).
func fetch(ctx context.Context, url string) ([]byte, error) {
	if p, ok := strings.CutPrefix(url, "file://"); ok || strings.HasPrefix(url, "/") {
		if !ok {
			p = url
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readBounded(f)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	// The manifest changes in place: caches between here and the
	// publisher must not serve an old one.
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return readBounded(resp.Body)
}

func readBounded(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, release.MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > release.MaxSize {
		return nil, fmt.Errorf("the manifest is larger than %d bytes", release.MaxSize)
	}
	return data, nil
}
