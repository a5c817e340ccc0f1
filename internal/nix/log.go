package nix

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
)

// actCopyPath is the activity type Nix starts for each store path it copies;
// its first field is the path.
const actCopyPath = 100

// jsonLog reads nix's `--log-format internal-json` stderr: it reports each
// path being copied and keeps the messages (and any plain line, such as
// ssh's own errors) as text for error messages.
type jsonLog struct {
	onCopy func(path string)

	mu   sync.Mutex
	buf  []byte
	text strings.Builder
}

type logLine struct {
	Action string            `json:"action"`
	Type   int               `json:"type"`
	Fields []json.RawMessage `json:"fields"`
	Msg    string            `json:"msg"`
}

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

func (l *jsonLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.line(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
}

func (l *jsonLog) line(s string) {
	js, ok := strings.CutPrefix(s, "@nix ")
	if !ok {
		l.text.WriteString(s + "\n")
		return
	}
	var e logLine
	if json.Unmarshal([]byte(js), &e) != nil {
		return
	}
	switch {
	case e.Action == "msg":
		l.text.WriteString(ansiRE.ReplaceAllString(e.Msg, "") + "\n")
	case e.Action == "start" && e.Type == actCopyPath && len(e.Fields) > 0:
		var path string
		if json.Unmarshal(e.Fields[0], &path) == nil && l.onCopy != nil {
			l.onCopy(path)
		}
	}
}

// String is the text of the log so far (with an unterminated last line).
func (l *jsonLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.line(string(l.buf))
		l.buf = nil
	}
	return l.text.String()
}
