// Command compose-check loads Compose files the way `docker compose config`
// does (compose-go: the Compose Specification JSON schema, interpolation,
// normalisation, cross-reference checks such as depends_on targets, volumes
// and networks that must be declared) and needs no Docker engine.
//
// It is the fallback of deploy/validate.sh where the `docker compose` plugin
// is not installed. Usage: compose-check [-print] FILE...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	print := flag.Bool("print", false, "print the resolved project as YAML (like `docker compose config`)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: compose-check [-print] FILE...")
		os.Exit(2)
	}
	opts, err := cli.NewProjectOptions(flag.Args(),
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
		os.Exit(1)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
		os.Exit(1)
	}
	if *print {
		out, err := project.MarshalYAML()
		if err != nil {
			fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
			os.Exit(1)
		}
		os.Stdout.Write(out)
		return
	}
	fmt.Printf("compose-check: %s valid (%d services)\n", project.Name, len(project.Services))
}
