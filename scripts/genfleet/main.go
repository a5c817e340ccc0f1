// Command genfleet writes a synthetic fleet for benchmarks:
//
//	go run ./scripts/genfleet -machines 200 -files 2000 DIR
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/nixherd/nixherd/internal/fleetgen"
)

func main() {
	var o fleetgen.Options
	flag.IntVar(&o.Machines, "machines", 200, "number of machines")
	flag.IntVar(&o.Files, "files", 2000, "number of .nix files")
	flag.IntVar(&o.Services, "services", 20, "number of mkService services")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: genfleet [-machines N] [-files N] [-services N] DIR")
		os.Exit(2)
	}
	n, err := fleetgen.Generate(flag.Arg(0), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "genfleet:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %d machines, %d .nix files, %d services\n", flag.Arg(0), o.Machines, n, o.Services)
}
