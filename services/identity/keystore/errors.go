package keystore

import (
	"errors"
	"fmt"
	"io/fs"
)

// Errors callers branch on with errors.Is. Errors about the key file wrap
// them and name the file's path.
var (
	// ErrPassphraseRequired: the key file is encrypted and no passphrase
	// was given.
	ErrPassphraseRequired = errors.New("keystore: key file is encrypted; a passphrase is required")
	// ErrWrongPassphrase: the passphrase does not decrypt the key file (or
	// the encrypted file was altered: the two cannot be told apart).
	ErrWrongPassphrase = errors.New("keystore: wrong passphrase")
	// ErrInsecurePermissions: the key file may be read or written by
	// someone other than its owner. The error is an
	// *InsecurePermissionsError.
	ErrInsecurePermissions = errors.New("keystore: key file permissions are too open")
	// ErrCorruptKey: the key file is not a key file this package can read
	// (bad PEM, bad DER, a key that is not Ed25519, unknown format).
	ErrCorruptKey = errors.New("keystore: corrupt key file")
	// ErrNotEncrypted: a passphrase was given for a key file that is not
	// encrypted. Open refuses rather than ignore the passphrase; Encrypt
	// converts the file.
	ErrNotEncrypted = errors.New("keystore: key file is not encrypted")
	// ErrAlreadyEncrypted: Encrypt was asked to encrypt an encrypted file.
	ErrAlreadyEncrypted = errors.New("keystore: key file is already encrypted")
	// ErrEmptyPassphrase: an empty passphrase was given.
	ErrEmptyPassphrase = errors.New("keystore: empty passphrase")
	// ErrUnexpectedFile: the accounts directory holds a file the keyring
	// did not write (a name that is neither the keyring file nor an account
	// file, nor a leftover temporary file). OpenKeyring refuses rather than
	// skip it; move the file elsewhere.
	ErrUnexpectedFile = errors.New("keystore: unexpected file in the accounts directory")
)

// InsecurePermissionsError reports a key file whose mode allows more than
// owner read and write (0600), or a keyring directory whose mode allows more
// than owner access (0700). It wraps ErrInsecurePermissions.
type InsecurePermissionsError struct {
	Path string
	Mode fs.FileMode // permission bits of the file or directory
	Dir  bool        // Path is the accounts directory, not a key file
}

func (e *InsecurePermissionsError) Error() string {
	if e.Dir {
		return fmt.Sprintf("keystore: key directory %s has mode %#o; it must not be accessible to group or others (chmod 700 %s)",
			e.Path, uint32(e.Mode.Perm()), e.Path)
	}
	return fmt.Sprintf("keystore: key file %s has mode %#o; it must not be accessible to group or others (chmod 600 %s)",
		e.Path, uint32(e.Mode.Perm()), e.Path)
}

// Unwrap returns ErrInsecurePermissions.
func (e *InsecurePermissionsError) Unwrap() error { return ErrInsecurePermissions }
