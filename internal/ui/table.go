package ui

import (
	"bytes"
	"io"
	"strings"
	"text/tabwriter"
)

// Table writes rows as aligned columns separated by two spaces, without
// trailing blanks (an empty last cell leaves none). Cells are aligned by
// bytes: keep them ASCII. Every cell is escaped (Escape): tables show
// store paths, generations and errors that came from hosts.
func Table(w io.Writer, rows [][]string) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = Escape(c)
		}
		io.WriteString(tw, strings.Join(cells, "\t")+"\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var out strings.Builder
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		out.WriteString(strings.TrimRight(line, " \n"))
		if strings.HasSuffix(line, "\n") {
			out.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}
