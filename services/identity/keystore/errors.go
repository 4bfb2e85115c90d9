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
)

// InsecurePermissionsError reports a key file whose mode allows more than
// owner read and write (0600). It wraps ErrInsecurePermissions.
type InsecurePermissionsError struct {
	Path string
	Mode fs.FileMode // permission bits of the file
}

func (e *InsecurePermissionsError) Error() string {
	return fmt.Sprintf("keystore: key file %s has mode %#o; it must not be accessible to group or others (chmod 600 %s)",
		e.Path, uint32(e.Mode.Perm()), e.Path)
}

// Unwrap returns ErrInsecurePermissions.
func (e *InsecurePermissionsError) Unwrap() error { return ErrInsecurePermissions }
