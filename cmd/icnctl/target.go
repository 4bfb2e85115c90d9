package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/intercooperative-network/icn-go/services/httpapi"
)

// Environment variables icnctl reads. They are the names icnd knows as
// non-configuration (ICN_API, ICN_ADMIN) or as its own key (ICN_DATA_DIR):
// icnd refuses unknown ICN_* variables, so icnctl must not invent others.
const (
	envAPI     = "ICN_API"
	envAdmin   = "ICN_ADMIN"
	envDataDir = "ICN_DATA_DIR"
)

// Defaults when neither a flag, the environment nor an address file names
// the listeners.
const (
	defaultDataDir   = "./data"
	defaultAPIAddr   = "127.0.0.1:7845"
	defaultAdminAddr = "127.0.0.1:7846"
)

// listener describes one of icnd's two listeners from icnctl's side.
type listener struct {
	name        string // "api" or "admin": the addr file's base name and the word in messages
	addrFlag    string // --api
	addrEnv     string // ICN_API
	tokenFlag   string // --api-token-file
	tokenFile   string // api.token
	defaultAddr string
}

func apiListener() listener {
	return listener{name: "api", addrFlag: "--api", addrEnv: envAPI,
		tokenFlag: "--api-token-file", tokenFile: httpapi.APITokenFile, defaultAddr: defaultAPIAddr}
}

func adminListener() listener {
	return listener{name: "admin", addrFlag: "--admin", addrEnv: envAdmin,
		tokenFlag: "--admin-token-file", tokenFile: httpapi.AdminTokenFile, defaultAddr: defaultAdminAddr}
}

// target is a resolved listener: where it is and where its token is.
type target struct {
	listener
	base      string // scheme://host:port[/prefix], no trailing slash
	source    string // where base came from, for messages
	tokenPath string
}

// setting is a value given by a flag, else the environment, else unset.
type setting struct {
	value  string
	source string // "--api", "ICN_API"
}

// resolveTarget finds a listener: the flag, else the environment, else the
// address file icnd keeps in the data dir, else the default.
func resolveTarget(l listener, addr setting, dataDir, tokenPath string) (target, error) {
	t := target{listener: l, tokenPath: tokenPath}
	if t.tokenPath == "" {
		t.tokenPath = filepath.Join(dataDir, l.tokenFile)
	}
	if addr.value != "" {
		base, err := parseAddr(addr.value)
		if err != nil {
			return t, usageErrorf("%s %q: %v", addr.source, addr.value, err)
		}
		t.base, t.source = base, addr.source
		return t, nil
	}
	file := httpapi.AddrFile(dataDir, l.name)
	b, err := os.ReadFile(file)
	switch {
	case err == nil:
		line := strings.TrimSpace(string(b))
		base, err := parseAddr(line)
		if err != nil {
			return t, fmt.Errorf("address file %s holds %q: %v (delete it, or pass %s)", file, line, err, l.addrFlag)
		}
		t.base, t.source = base, file
		return t, nil
	case errors.Is(err, fs.ErrNotExist):
		base, _ := parseAddr(l.defaultAddr) // a constant: cannot fail
		t.base, t.source = base, "default"
		return t, nil
	default:
		return t, fmt.Errorf("read %s: %w", file, err)
	}
}

// parseAddr turns "host:port" or "http(s)://host[:port][/prefix]" into a base
// URL. An unspecified host (0.0.0.0, ::, empty), as a node bound to every
// interface writes into its address file, becomes the loopback address.
func parseAddr(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty address")
	}
	scheme, hostport, prefix := "http", s, ""
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", fmt.Errorf("not a URL: %v", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return "", fmt.Errorf("scheme %q: want http or https", u.Scheme)
		}
		if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return "", errors.New("want http://host:port, with no user, query or fragment")
		}
		scheme, hostport, prefix = u.Scheme, u.Host, strings.TrimRight(u.Path, "/")
		if u.Port() == "" {
			return scheme + "://" + loopbackIfUnspecified(u.Hostname(), true) + prefix, nil
		}
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", errors.New("want host:port or http://host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q: want 1 to 65535", port)
	}
	return scheme + "://" + net.JoinHostPort(loopbackIfUnspecified(host, false), port) + prefix, nil
}

// loopbackIfUnspecified maps a wildcard address to the loopback address of
// its family; bracketed says whether an IPv6 answer needs brackets.
func loopbackIfUnspecified(host string, bracketed bool) string {
	if host == "" {
		return "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	switch {
	case err != nil || !ip.IsUnspecified():
		if bracketed && err == nil && ip.Is6() {
			return "[" + host + "]"
		}
		return host
	case ip.Is4():
		return "127.0.0.1"
	case bracketed:
		return "[::1]"
	default:
		return "::1"
	}
}

// hostPort returns the host:port part of a base URL, for messages.
func hostPort(base string) string {
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		return u.Host
	}
	return base
}

// readToken reads a bearer token file as icnd writes it.
func readToken(t target) (string, error) {
	b, err := os.ReadFile(t.tokenPath)
	if err != nil {
		return "", &TokenError{Listener: t.name, Path: t.tokenPath, Flag: t.tokenFlag, Err: err}
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", &TokenError{Listener: t.name, Path: t.tokenPath, Flag: t.tokenFlag, Err: errors.New("not a token (want one line)")}
	}
	return tok, nil
}

// TokenError says which token file could not be read and how to get one.
type TokenError struct {
	Listener string // api | admin
	Path     string
	Flag     string // --api-token-file
	Err      error
}

func (e *TokenError) Error() string {
	if errors.Is(e.Err, fs.ErrNotExist) {
		return fmt.Sprintf("no %s token: %s does not exist; icnd creates it on its first start "+
			"(start icnd with `make run`, or point --data-dir at its data directory, or pass %s)", e.Listener, e.Path, e.Flag)
	}
	return fmt.Sprintf("read the %s token from %s: %v", e.Listener, e.Path, e.Err)
}

func (e *TokenError) Unwrap() error { return e.Err }

// fragmentEscape percent-encodes all but the unreserved characters, so the
// admin page's decodeURIComponent gets the token back whole.
func fragmentEscape(s string) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
