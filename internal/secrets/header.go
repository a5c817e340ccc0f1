package secrets

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The age v1 file format, as much of it as an offline audit needs: the header
// lists one stanza per recipient, and SSH stanzas carry a short tag of the
// recipient's public key. The parser is our own (age keeps its parser
// internal) and never needs a private key.

const (
	ageIntro    = "age-encryption.org/v1"
	armorBegin  = "-----BEGIN AGE ENCRYPTED FILE-----"
	armorEnd    = "-----END AGE ENCRYPTED FILE-----"
	stanzaCols  = 64
	maxStanzas  = 1024 // far beyond any real file; bounds work on hostile input
	maxLineSize = 4096
	// maxHeaderSize bounds how much of a file is read for its header.
	maxHeaderSize = 1 << 20
)

// Stanza types that identify their recipient (by tag) or only count them.
const (
	StanzaSSHEd25519 = "ssh-ed25519"
	StanzaSSHRSA     = "ssh-rsa"
	StanzaX25519     = "X25519"
	StanzaHybrid     = "mlkem768x25519"
)

const msgTruncated = "unexpected end of file (truncated header)"

// ErrNotEncrypted is returned by ReadHeader for a file that is neither a
// binary nor an armored age file: plaintext where a secret should be.
var ErrNotEncrypted = errors.New("not an age-encrypted file")

// Header is the recipient list of an age file, read without a private key.
type Header struct {
	Armored bool
	Stanzas []Stanza
	MAC     string // base64 header MAC, as written
}

// Stanza is one recipient block of an age header.
type Stanza struct {
	Type string
	Args []string
	Body []byte
}

// HeaderError is a malformed age header; Line counts lines of the (dearmored) header.
type HeaderError struct {
	Line int
	Msg  string
}

func (e *HeaderError) Error() string {
	return fmt.Sprintf("malformed age header, line %d: %s", e.Line, e.Msg)
}

// SSHTags returns "type tag" for every SSH stanza (ssh-ed25519, ssh-rsa), in
// header order. Compare with Recipient.Tag.
func (h *Header) SSHTags() []string {
	var tags []string
	for _, s := range h.Stanzas {
		if (s.Type == StanzaSSHEd25519 || s.Type == StanzaSSHRSA) && len(s.Args) > 0 {
			tags = append(tags, s.Type+" "+s.Args[0])
		}
	}
	return tags
}

// Count returns how many stanzas of the given type the header has. X25519 and
// hybrid stanzas carry no identifier, so a count is all that can be audited.
func (h *Header) Count(stanzaType string) int {
	n := 0
	for _, s := range h.Stanzas {
		if s.Type == stanzaType {
			n++
		}
	}
	return n
}

// ReadHeader reads the header of a binary or armored age file (armor with LF
// or CRLF line ends). Grease and unknown stanza types are kept in Stanzas;
// callers look only at the types they know. Only the header is read.
func ReadHeader(r io.Reader) (*Header, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, maxHeaderSize), maxLineSize)
	// Armor may be preceded by whitespace; a binary file starts with the intro.
	skipped := false
	for {
		b, err := br.Peek(1)
		if err != nil {
			if err == io.EOF {
				return nil, ErrNotEncrypted
			}
			return nil, err
		}
		if b[0] != ' ' && b[0] != '\t' && b[0] != '\r' && b[0] != '\n' {
			break
		}
		br.ReadByte()
		skipped = true
	}
	start, _ := br.Peek(len(armorBegin))
	if string(start) == armorBegin {
		h, err := parseHeader(bufio.NewReader(&dearmor{r: br}))
		if h != nil {
			h.Armored = true
		}
		return h, err
	}
	if start, _ := br.Peek(len(ageIntro)); skipped && string(start) == ageIntro {
		return nil, &HeaderError{1, "whitespace before the age header"}
	}
	return parseHeader(br)
}

func parseHeader(br *bufio.Reader) (*Header, error) {
	line := 0
	next := func() (string, error) {
		line++
		s, err := br.ReadString('\n')
		if err == io.EOF {
			return "", &HeaderError{line, msgTruncated}
		}
		if err != nil {
			var he *HeaderError
			if errors.As(err, &he) {
				return "", err
			}
			return "", fmt.Errorf("reading age header: %w", err)
		}
		if len(s) > maxLineSize {
			return "", &HeaderError{line, "line too long"}
		}
		return s[:len(s)-1], nil
	}

	intro, err := next()
	if err != nil {
		var he *HeaderError
		if errors.As(err, &he) && he.Msg == msgTruncated {
			return nil, ErrNotEncrypted // no line at all: not an age file
		}
		return nil, err
	}
	if intro == ageIntro+"\r" {
		return nil, &HeaderError{1, "CRLF line ends in a binary age file (converted by git? mark *.age as binary in .gitattributes)"}
	}
	if intro != ageIntro {
		if strings.HasPrefix(intro, "age-encryption.org/") {
			return nil, &HeaderError{1, fmt.Sprintf("unsupported age version %q", intro)}
		}
		return nil, ErrNotEncrypted
	}

	h := &Header{}
	s, err := next()
	for {
		if err != nil {
			return nil, err
		}
		if mac, ok := strings.CutPrefix(s, "--- "); ok {
			if _, err := decodeBase64(mac); err != nil || len(mac) != 43 {
				return nil, &HeaderError{line, "invalid header MAC encoding"}
			}
			if len(h.Stanzas) == 0 {
				return nil, &HeaderError{line, "no recipient stanzas"}
			}
			h.MAC = mac
			return h, nil
		}
		rest, ok := strings.CutPrefix(s, "-> ")
		if !ok {
			return nil, &HeaderError{line, fmt.Sprintf("expected a stanza (\"-> \") or the MAC line (\"--- \"), found %q", clip(s))}
		}
		if len(h.Stanzas) == maxStanzas {
			return nil, &HeaderError{line, "too many recipient stanzas"}
		}
		fields := strings.Split(rest, " ")
		for _, f := range fields {
			if f == "" || !isPrintable(f) {
				return nil, &HeaderError{line, "malformed stanza arguments"}
			}
		}
		st := Stanza{Type: fields[0], Args: fields[1:]}
		// The body is wrapped at 64 columns; a line shorter than that ends it.
		for {
			s, err = next()
			if err != nil {
				return nil, err
			}
			if strings.HasSuffix(s, "\r") {
				return nil, &HeaderError{line, "CRLF line ends in a binary age file (converted by git? mark *.age as binary in .gitattributes)"}
			}
			if len(s) > stanzaCols {
				return nil, &HeaderError{line, "stanza body line longer than 64 columns"}
			}
			b, err := decodeBase64(s)
			if err != nil {
				return nil, &HeaderError{line, "invalid base64 in stanza body"}
			}
			st.Body = append(st.Body, b...)
			if len(s) < stanzaCols {
				break
			}
		}
		h.Stanzas = append(h.Stanzas, st)
		s, err = next()
	}
}

func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// dearmor decodes the PEM-like armor of an age file line by line, accepting
// LF and CRLF line ends (age does too; git on Windows produces them).
type dearmor struct {
	r       *bufio.Reader
	started bool
	done    bool
	buf     []byte
	line    int
}

func (d *dearmor) Read(p []byte) (int, error) {
	for len(d.buf) == 0 {
		if d.done {
			return 0, io.EOF
		}
		s, err := d.r.ReadString('\n')
		d.line++
		if err != nil && (err != io.EOF || s == "") {
			if err == io.EOF {
				return 0, &HeaderError{d.line, "armor ends without " + armorEnd}
			}
			return 0, err
		}
		s = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
		if !d.started {
			if s != armorBegin {
				return 0, &HeaderError{d.line, "invalid armor first line"}
			}
			d.started = true
			continue
		}
		if s == armorEnd {
			d.done = true
			continue
		}
		if len(s) > stanzaCols || len(s) == 0 {
			return 0, &HeaderError{d.line, "invalid armor line length"}
		}
		b, derr := base64.StdEncoding.Strict().DecodeString(s)
		if derr != nil {
			return 0, &HeaderError{d.line, "invalid base64 in armor"}
		}
		d.buf = b
	}
	n := copy(p, d.buf)
	d.buf = d.buf[n:]
	return n, nil
}

// decodeBase64 decodes unpadded base64 as age does. Go's decoder skips
// \r and \n anywhere in its input, even in Strict mode; age reads them as
// part of the line and rejects it, so nixherd must too.
func decodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("a line break inside base64")
	}
	return base64.RawStdEncoding.Strict().DecodeString(s)
}
