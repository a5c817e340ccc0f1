package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/fleetexec"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/report"
	"github.com/nixherd/nixherd/internal/ui"
	"github.com/spf13/cobra"
)

func init() {
	register(func() *cobra.Command {
		var (
			fl       fleetFlags
			all      bool
			group    bool
			asJSON   bool
			parallel int
		)
		cmd := &cobra.Command{
			Use:   "exec SELECTOR... -- COMMAND [ARG...]",
			Short: "Run a command on many machines at once",
			Long: `exec runs COMMAND on the hosts of the selected machines (names, globs, @tags,
comma lists, or --all), in parallel, over one ssh connection per host; a
host's machines run it once, and a "local" target runs it here.

Each line a command prints is shown as it comes, after the machine's name
("devnix | …"; what it prints on stderr goes to stderr); with --group each
host's output is shown in one block when its command ends. A summary with
each host's exit status follows on stderr.

The arguments reach the remote shell exactly as given: each is quoted, so
  nixherd exec @vm -- echo '$HOME'
prints $HOME. For pipes or variables, run a shell:
  nixherd exec @vm -- sh -c 'journalctl -u sshd | tail -3'

Exit status: 0 when the command succeeded everywhere; 1 when it failed
somewhere; 2 for bad input; 3 when some host could not be reached.`,
			Example: `  nixherd exec @vm -- uptime
  nixherd exec --all --group -- systemctl --failed
  nixherd exec 'dev*' --json -- nixos-version`,
			RunE: func(cmd *cobra.Command, args []string) error {
				dash := cmd.ArgsLenAtDash()
				if dash < 0 || dash == len(args) {
					return exitCode(2, errors.New("give the command after --: nixherd exec SELECTOR... -- COMMAND [ARG...]"))
				}
				if parallel < 1 {
					return exitCode(2, fmt.Errorf("--parallel must be at least 1"))
				}
				selectors, argv := args[:dash], args[dash:]
				ctx := cmd.Context()
				machines, err := fl.selectMachines(ctx, cmd.ErrOrStderr(), selection{hosts.Selection{Selectors: selectors, All: all}, "run the command on", true})
				if err != nil {
					return err
				}
				var out fleetexec.Output
				if !asJSON {
					out = &execOutput{stdout: cmd.OutOrStdout(), stderr: cmd.ErrOrStderr(), group: group}
				}
				s, err := fleetexec.Run(ctx, machines, argv, fanout.Options{Parallel: parallel, SSHOptions: fl.sshOptions()}, out)
				if err != nil {
					return err
				}
				if asJSON {
					ui.WriteJSON(cmd.OutOrStdout(), s)
				} else {
					writeExecSummary(cmd.ErrOrStderr(), s)
				}
				outcomes := make([]report.Outcome, len(s.Hosts))
				for i, h := range s.Hosts {
					outcomes[i] = h.Outcome
				}
				return outcomesExit(s.OK, outcomes)
			},
		}
		f := cmd.Flags()
		f.BoolVar(&all, "all", false, "run on every machine in deploy.nix")
		f.BoolVar(&group, "group", false, "show each host's output in one block when its command ends")
		f.BoolVar(&asJSON, "json", false, "print every host's output and exit status as JSON")
		f.IntVarP(&parallel, "parallel", "p", 10, "run on at most `N` hosts at once")
		fl.register(f)
		selectors := fl.selectorCompletion(false)
		cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if completingAfterDash() {
				return nil, cobra.ShellCompDirectiveDefault // the command and its arguments
			}
			return selectors(cmd, args, toComplete)
		}
		return cmd
	})
}

// execOutput shows the commands' output: prefixed lines as they come, or
// one block per host with --group; escaped (ui.EscapeText), since it is
// the hosts' text (--json has it as sent).
type execOutput struct {
	stdout, stderr io.Writer
	group          bool
}

func (o *execOutput) Line(h *fleetexec.Host, stderr bool, line string) {
	if o.group {
		return
	}
	w := o.stdout
	if stderr {
		w = o.stderr
	}
	fmt.Fprintf(w, "%s | %s\n", h.Label, ui.EscapeText(line))
}

func (o *execOutput) Done(h *fleetexec.Host) {
	if !o.group {
		return
	}
	fmt.Fprintf(o.stdout, "── %s (%s): %s ──\n", strings.Join(h.Machines, ", "), h.Target, execStatus(h))
	if h.Stdout != "" {
		fmt.Fprint(o.stdout, ui.EscapeText(strings.TrimSuffix(h.Stdout, "\n"))+"\n")
	}
	if h.Stderr != "" {
		fmt.Fprint(o.stderr, ui.EscapeText(strings.TrimSuffix(h.Stderr, "\n"))+"\n")
	}
}

func execStatus(h *fleetexec.Host) string {
	switch h.Outcome {
	case fleetexec.Succeeded, fleetexec.Exited:
		return "exit " + strconv.Itoa(h.ExitCode)
	}
	return string(h.Outcome)
}

func writeExecSummary(w io.Writer, s *fleetexec.Summary) error {
	rows := [][]string{{"MACHINES", "TARGET", "EXIT", "DURATION", "ERROR"}}
	failed := 0
	for _, h := range s.Hosts {
		first, _, _ := strings.Cut(strings.TrimSpace(h.Error), "\n")
		rows = append(rows, []string{strings.Join(h.Machines, ","), h.Target, execStatus(&h),
			time.Duration(h.Seconds * float64(time.Second)).Round(10 * time.Millisecond).String(), first})
		if h.Outcome != fleetexec.Succeeded {
			failed++
		}
	}
	if err := ui.Table(w, rows); err != nil {
		return err
	}
	if failed > 0 {
		fmt.Fprintf(w, "%d of %d hosts failed\n", failed, len(s.Hosts))
	}
	return nil
}

// completingAfterDash reports whether the word being completed comes after
// "--" (the command exec runs and its arguments). Cobra parses the words
// with a "--" of its own appended, so the flag set cannot say: the words
// are read as the shell passed them (`nixherd __complete exec … WORD`).
func completingAfterDash() bool {
	words := os.Args[1:]
	if len(words) == 0 || words[0] != cobra.ShellCompRequestCmd && words[0] != cobra.ShellCompNoDescRequestCmd {
		return false
	}
	return slices.Contains(words[1:len(words)-1], "--")
}
