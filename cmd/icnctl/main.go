package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, newApp(os.Getenv, version), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, a *app, args []string, stdout, stderr io.Writer) int {
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	a.close()
	var unwell *unwellError
	var usage *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &unwell):
		return exitUnwell // the command already printed why
	case errors.As(err, &usage) || !a.started:
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(stderr, "icnctl: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return exitUsage
	case isInterrupted(err):
		fmt.Fprintln(stderr, "icnctl: interrupted")
		return exitError
	default:
		fmt.Fprintf(stderr, "icnctl: %v\n", err)
		return exitError
	}
}
