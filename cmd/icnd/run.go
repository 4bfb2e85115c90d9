package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/services/logging"
	"github.com/intercooperative-network/icn-go/wiring"
)

// stopBudget bounds an orderly shutdown (drain, actors, network, store).
const stopBudget = 10 * time.Second

func runCommand() *cobra.Command {
	var checkOnly, printConfig bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the node until SIGINT or SIGTERM",
		Long: `Run the node until SIGINT or SIGTERM.

Settings come from, lowest to highest precedence: the profile's defaults,
the TOML file given by --config (or ICN_CONFIG), ICN_* environment variables,
and flags. An encrypted node key is unlocked with ICN_KEY_PASSPHRASE or the
file named by key_passphrase_file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if printConfig {
				fmt.Fprint(cmd.OutOrStdout(), cfg.String())
			}
			if checkOnly {
				fmt.Fprintln(cmd.OutOrStdout(), "config ok")
				return nil
			}
			return run(cmd, cfg)
		},
	}
	cmd.Flags().BoolVar(&checkOnly, "check-config", false, "validate the configuration and exit (0 valid, 2 invalid)")
	cmd.Flags().BoolVar(&printConfig, "print-config", false, "print the effective configuration as TOML")
	wiring.RegisterFlags(cmd.Flags())
	return cmd
}

func loadConfig(cmd *cobra.Command) (wiring.Config, error) {
	return wiring.LoadFlags("", os.Environ(), cmd.Flags())
}

func passphraseFromEnv() []byte {
	if p, ok := os.LookupEnv(wiring.EnvKeyPassphrase); ok {
		return []byte(p)
	}
	return nil
}

func run(cmd *cobra.Command, cfg wiring.Config) error {
	log, err := logging.New(os.Stderr, cfg.SlogLevel(), cfg.LogFormat)
	if err != nil {
		return err
	}
	log.Info("starting icnd", "version", version, "go", runtime.Version(), "config", cfg)
	node, err := wiring.New(cfg, wiring.Options{Version: version, Logger: log, KeyPassphrase: passphraseFromEnv()})
	if err != nil {
		return err
	}
	// Catch SIGINT/SIGTERM before anything listens: a signal that arrives
	// while the node starts must still get an orderly stop.
	signals := node.Done()
	startCtx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
	defer cancel()
	began := time.Now()
	if err := node.Start(startCtx); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	log.Info("node started", "did", node.Identity.DID().String(), "peer_id", node.Network.ID().String(),
		"components", node.Describe(), "took", time.Since(began))
	printBanner(cmd, cfg, node)

	sig := <-signals
	log.Info("stopping", "signal", sig.String())
	stopCtx, cancelStop := context.WithTimeout(context.Background(), stopBudget)
	defer cancelStop()
	began = time.Now()
	if err := node.Stop(stopCtx); err != nil {
		log.Error("stop", "err", err, "took", time.Since(began))
		return fmt.Errorf("stop: %w", err)
	}
	log.Info("stopped", "took", time.Since(began))
	return nil
}

func printBanner(cmd *cobra.Command, cfg wiring.Config, node *wiring.Node) {
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "icnd %s is up (profile %s: %s)\n", version, cfg.Profile, node.Describe())
	fmt.Fprintf(out, "  DID        %s\n", node.Identity.DID())
	fmt.Fprintf(out, "  peer ID    %s\n", node.Network.ID())
	fmt.Fprintf(out, "  API        http://%s  (token: %s)\n", node.Server.Addr("api"), abs(filepath.Join(cfg.DataDir, httpapi.APITokenFile)))
	fmt.Fprintf(out, "  admin      http://%s/admin/  (token: %s)\n", node.Server.Addr("admin"), abs(filepath.Join(cfg.DataDir, httpapi.AdminTokenFile)))
	fmt.Fprintf(out, "  data dir   %s\n", abs(cfg.DataDir))
	fmt.Fprintf(out, "try: icnctl --data-dir %s status | actors | admin-url\n", cfg.DataDir)
}
