package keystore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// fileMode is the mode of a key file, dirMode of a data dir this package
// creates.
const (
	fileMode fs.FileMode = 0o600
	dirMode  fs.FileMode = 0o700
)

// errFileExists reports that createFile lost a race: another process
// created the key file first.
var errFileExists = errors.New("keystore: key file already exists")

// readKeyFile reads the key file at path after checking, on the open file,
// that it is a regular file no one but its owner can access. A missing file
// gives an error wrapping fs.ErrNotExist.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path) // follows symlinks (e.g. mounted secrets)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s: not a regular file (%s)", ErrCorruptKey, path, fi.Mode().Type())
	}
	// Windows reports 0666 or 0444 for every file: its ACLs are not mode bits.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&^fileMode != 0 {
		return nil, &InsecurePermissionsError{Path: path, Mode: fi.Mode().Perm()}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("keystore: read %s: %w", path, err)
	}
	return data, nil
}

// createFile writes data to path only if no file is there, atomically: the
// bytes go to a temporary file in the same directory (mode 0600), which is
// fsynced, then hard-linked to path (which fails if path exists, so two
// processes starting together cannot both create a key), and the directory
// is fsynced. It returns errFileExists if path exists.
//
// On a file system without hard links it falls back to rename, which is
// atomic but not exclusive.
func createFile(path string, data []byte) error {
	return writeAtomic(path, data, false)
}

// replaceFile atomically replaces the file at path with data, with mode
// 0600: temporary file, fsync, rename, fsync of the directory.
func replaceFile(path string, data []byte) error {
	return writeAtomic(path, data, true)
}

func writeAtomic(path string, data []byte, replace bool) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if f != nil {
			f.Close()
		}
		if tmp != "" {
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(fileMode); err != nil { // CreateTemp uses 0600, but say so
		return fmt.Errorf("keystore: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("keystore: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("keystore: sync %s: %w", tmp, err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return fmt.Errorf("keystore: close %s: %w", tmp, err)
	}

	if replace {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("keystore: %w", err)
		}
		tmp = ""
	} else {
		switch err := os.Link(tmp, path); {
		case errors.Is(err, fs.ErrExist):
			return errFileExists
		case err != nil:
			// No hard links here (e.g. some FUSE or FAT file systems).
			if _, serr := os.Lstat(path); serr == nil {
				return errFileExists
			}
			if err := os.Rename(tmp, path); err != nil {
				return fmt.Errorf("keystore: %w", err)
			}
			tmp = ""
		}
		if tmp != "" { // linked: drop the temporary name before the dir sync
			if err := os.Remove(tmp); err != nil {
				return fmt.Errorf("keystore: %w", err)
			}
			tmp = ""
		}
	}
	return syncDir(dir)
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for sync there
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keystore: sync dir %s: %w", dir, err)
	}
	return nil
}
