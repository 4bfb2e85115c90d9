package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/services/identity/keystore"
	"github.com/intercooperative-network/icn-go/wiring"
)

func initCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the data dir, the node key and the API tokens without starting the node",
		Long: `Create the data dir, the node key (encrypted when ICN_KEY_PASSPHRASE or
key_passphrase_file gives a passphrase) and the API and admin tokens, then
print the node's DID and peer ID. Existing files are kept: init is idempotent.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			var opts []keystore.Option
			if p, err := wiring.KeyPassphrase(cfg, passphraseFromEnv()); err != nil {
				return err
			} else if p != nil {
				opts = append(opts, keystore.WithPassphrase(p))
			}
			id, err := keystore.Open(cfg.DataDir, opts...)
			if err != nil {
				return err
			}
			pid, err := id.PeerID()
			if err != nil {
				return err
			}
			for _, f := range []string{httpapi.APITokenFile, httpapi.AdminTokenFile} {
				if _, err := httpapi.LoadOrCreateToken(filepath.Join(cfg.DataDir, f)); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "DID       %s\npeer ID   %s\nkey       %s\ntokens    %s, %s\n", id.DID(), pid,
				keystore.Path(cfg.DataDir), filepath.Join(cfg.DataDir, httpapi.APITokenFile), filepath.Join(cfg.DataDir, httpapi.AdminTokenFile))
			return nil
		},
	}
	wiring.RegisterFlags(cmd.Flags())
	return cmd
}

func keyCommand() *cobra.Command {
	key := &cobra.Command{Use: "key", Short: "Manage the node key"}
	encrypt := &cobra.Command{
		Use:   "encrypt",
		Short: "Encrypt the node key and the account keyring in place with the passphrase from ICN_KEY_PASSPHRASE or key_passphrase_file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			p, err := wiring.KeyPassphrase(cfg, passphraseFromEnv())
			if err != nil {
				return err
			}
			if p == nil {
				return fmt.Errorf("no passphrase: set %s or key_passphrase_file", wiring.EnvKeyPassphrase)
			}
			// The node key and the keyring of the ledger's accounts go
			// together: a node with one encrypted and not the other does
			// not start. Each step skips what is encrypted already, so a
			// run that was interrupted is finished by running it again.
			nodeErr := keystore.Encrypt(cfg.DataDir, p)
			switch {
			case nodeErr == nil:
				fmt.Fprintf(cmd.OutOrStdout(), "encrypted %s\n", keystore.Path(cfg.DataDir))
			case !errors.Is(nodeErr, keystore.ErrAlreadyEncrypted):
				return nodeErr
			}
			sealed, err := keystore.EncryptKeyring(cfg.DataDir, p)
			switch {
			case err == nil:
				fmt.Fprintf(cmd.OutOrStdout(), "encrypted the keyring in %s (%d account keys)\n",
					filepath.Join(cfg.DataDir, keystore.AccountsDir), sealed)
			case !errors.Is(err, keystore.ErrAlreadyEncrypted):
				return err
			case nodeErr != nil:
				return fmt.Errorf("%w; so is the keyring", nodeErr)
			}
			return nil
		},
	}
	wiring.RegisterFlags(encrypt.Flags())
	key.AddCommand(encrypt)
	return key
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "icnd %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}
