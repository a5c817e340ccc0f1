// Package testbrowser drives a headless Chromium (Debian's chromium
// package, never a downloaded browser) for tests that look at a page as a
// person does: load it at a window size, read what it rendered through
// JavaScript, take a screenshot. It speaks the DevTools protocol over
// Chromium's --remote-debugging-pipe (file descriptors 3 and 4, messages
// ended by a NUL byte), so it needs no port, no websocket and no
// dependency. Its API takes no *testing.T, like net/http/httptest.
//
// Caveats: one page (the first target) per browser; commands are sent one
// at a time; events are dropped except the load event Navigate waits for.
package testbrowser

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Path finds Debian's chromium ("" when it is not installed).
func Path() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser is a running headless Chromium.
type Browser struct {
	cmd     *exec.Cmd
	dir     string
	out     *os.File // our end of its fd 3 (we write)
	in      *os.File // our end of its fd 4 (we read)
	mu      sync.Mutex
	next    int
	waiting map[int]chan message
	events  chan message
	session string
	done    chan struct{}
	stderr  *lockedBuffer
}

type message struct {
	ID        int                       `json:"id,omitempty"`
	Method    string                    `json:"method,omitempty"`
	Params    json.RawMessage           `json:"params,omitempty"`
	Result    json.RawMessage           `json:"result,omitempty"`
	Error     *struct{ Message string } `json:"error,omitempty"`
	SessionID string                    `json:"sessionId,omitempty"`
}

// Start starts Chromium with a fresh profile in a directory of its own
// (removed by Close), a window of width×height, and no background
// networking (this machine's network is closed), and attaches to its page.
func Start(ctx context.Context, width, height int) (*Browser, error) {
	bin := Path()
	if bin == "" {
		return nil, errors.New("chromium is not installed (Debian: apt-get install chromium)")
	}
	dir, err := os.MkdirTemp("", "nixherd-chromium-")
	if err != nil {
		return nil, err
	}
	// Chromium reads commands on fd 3 and writes replies on fd 4.
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	b := &Browser{dir: dir, out: cmdW, in: repR, waiting: map[int]chan message{}, events: make(chan message, 64),
		done: make(chan struct{}), stderr: &lockedBuffer{}}
	b.cmd = exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-quic", "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
		"--user-data-dir="+dir, fmt.Sprintf("--window-size=%d,%d", width, height),
		"--remote-debugging-pipe", "about:blank")
	b.cmd.ExtraFiles = []*os.File{cmdR, repW}
	// A process group of its own: Close ends Chromium's helpers with it.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b.cmd.Stderr = b.stderr
	if err := b.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting chromium: %w", err)
	}
	cmdR.Close()
	repW.Close()
	go b.readLoop()
	if err := b.attach(ctx); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.Resize(ctx, width, height); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Browser) readLoop() {
	defer close(b.done)
	r := bufio.NewReader(b.in)
	for {
		data, err := r.ReadBytes(0)
		if err != nil {
			return
		}
		var m message
		if json.Unmarshal(data[:len(data)-1], &m) != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.waiting[m.ID]
			delete(b.waiting, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		select {
		case b.events <- m:
		default:
		}
	}
}

// call sends a command (to the page's session unless browser is true) and
// returns its result.
func (b *Browser) call(ctx context.Context, browser bool, method string, params any, result any) error {
	b.mu.Lock()
	b.next++
	id := b.next
	ch := make(chan message, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if !browser {
		msg["sessionId"] = b.session
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := b.out.Write(append(data, 0)); err != nil {
		return fmt.Errorf("chromium: %s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("chromium: %s: %s", method, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-b.done:
		return fmt.Errorf("chromium exited during %s: %s", method, b.stderr.String())
	case <-ctx.Done():
		return fmt.Errorf("chromium: %s: %w", method, ctx.Err())
	}
}

// attach finds the page Chromium opened and attaches to it.
func (b *Browser) attach(ctx context.Context) error {
	var targets struct {
		TargetInfos []struct{ TargetID, Type string } `json:"targetInfos"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := b.call(ctx, true, "Target.getTargets", nil, &targets); err != nil {
			return err
		}
		for _, t := range targets.TargetInfos {
			if t.Type == "page" {
				var att struct{ SessionID string }
				if err := b.call(ctx, true, "Target.attachToTarget", map[string]any{"targetId": t.TargetID, "flatten": true}, &att); err != nil {
					return err
				}
				b.session = att.SessionID
				return b.call(ctx, false, "Page.enable", nil, nil)
			}
		}
		if time.Now().After(deadline) {
			return errors.New("chromium opened no page")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Resize makes the page's viewport width×height CSS pixels, as a device of
// that size would have (a phone's width, say).
func (b *Browser) Resize(ctx context.Context, width, height int) error {
	return b.call(ctx, false, "Emulation.setDeviceMetricsOverride",
		map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}, nil)
}

// Navigate loads url and waits for its load event.
func (b *Browser) Navigate(ctx context.Context, url string) error {
	for {
		select {
		case <-b.events:
			continue
		default:
		}
		break
	}
	var nav struct{ ErrorText string }
	if err := b.call(ctx, false, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return err
	}
	if nav.ErrorText != "" {
		return fmt.Errorf("loading %s: %s", url, nav.ErrorText)
	}
	for {
		select {
		case m := <-b.events:
			if m.Method == "Page.loadEventFired" {
				return nil
			}
		case <-b.done:
			return fmt.Errorf("chromium exited loading %s: %s", url, b.stderr.String())
		case <-ctx.Done():
			return fmt.Errorf("loading %s: %w", url, ctx.Err())
		}
	}
}

// Eval evaluates a JavaScript expression in the page and stores its value
// (JSON-serialisable) in result.
func (b *Browser) Eval(ctx context.Context, expr string, result any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string
			Exception *struct{ Description string }
		} `json:"exceptionDetails"`
	}
	if err := b.call(ctx, false, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &r); err != nil {
		return err
	}
	if e := r.ExceptionDetails; e != nil {
		msg := e.Text
		if e.Exception != nil {
			msg = e.Exception.Description
		}
		return fmt.Errorf("evaluating %q: %s", expr, msg)
	}
	if result == nil {
		return nil
	}
	return json.Unmarshal(r.Result.Value, result)
}

// Screenshot takes a PNG of the whole page (beyond the viewport when it is
// longer).
func (b *Browser) Screenshot(ctx context.Context) ([]byte, error) {
	var shot struct{ Data string }
	if err := b.call(ctx, false, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(shot.Data)
}

// Close stops Chromium (asked to close, then its process group killed)
// and removes its profile.
func (b *Browser) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	b.call(ctx, true, "Browser.close", nil, nil)
	cancel()
	b.out.Close()
	if p := b.cmd.Process; p != nil {
		syscall.Kill(-p.Pid, syscall.SIGKILL)
		b.cmd.Wait()
	}
	b.in.Close()
	return os.RemoveAll(b.dir)
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) < 1<<16 {
		l.buf = append(l.buf, p...)
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}

var _ io.Writer = (*lockedBuffer)(nil)

// Texts maps the data-KEY attribute of each element selector matches to
// the text a person sees in it (runs of white space as one space).
func (b *Browser) Texts(ctx context.Context, selector, key string) (map[string]string, error) {
	sel, _ := json.Marshal(selector)
	k, _ := json.Marshal(key)
	var out map[string]string
	err := b.Eval(ctx, fmt.Sprintf(`Object.fromEntries([...document.querySelectorAll(%s)].map(e => [e.dataset[%s], e.innerText.replace(/\s+/g, " ")]))`, sel, k), &out)
	return out, err
}

// SaveScreenshot writes a screenshot of the page to path.
func (b *Browser) SaveScreenshot(ctx context.Context, path string) error {
	png, err := b.Screenshot(ctx)
	if err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}
