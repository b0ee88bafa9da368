package config

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
)

// ParseProxy reads one proxy in any of the forms proxy sellers hand out and
// returns it as scheme://[user:pass@]host:port:
//
//	host:port
//	host:port:user:pass        (the password may contain ':')
//	user:pass@host:port
//	http://user:pass@host:port (only http: the engine speaks CONNECT)
//
// Errors never repeat the password.
func ParseProxy(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("empty proxy")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return "", fmt.Errorf("%q contains spaces", redact(s))
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", fmt.Errorf("%q is not a proxy URL", redact(s))
		}
		if u.Scheme != "http" {
			// The engine tunnels through HTTP proxies (CONNECT) only.
			return "", fmt.Errorf("%q: scheme %q is not supported (only http:// proxies)", redact(s), u.Scheme)
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return "", fmt.Errorf("%q: a proxy URL has no path or query", redact(s))
		}
		if err := checkHostPort(u.Host); err != nil {
			return "", fmt.Errorf("%q is not a proxy URL: %w", redact(s), err)
		}
		return (&url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host}).String(), nil
	}
	var user *url.Userinfo
	hostport := s
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		name, pass, ok := strings.Cut(s[:at], ":")
		if !ok || name == "" {
			return "", fmt.Errorf("%q: want user:pass@host:port", redact(s))
		}
		user, hostport = url.UserPassword(name, pass), s[at+1:]
	} else if parts := strings.SplitN(s, ":", 4); len(parts) == 4 && !strings.Contains(s, "[") {
		if parts[2] == "" {
			return "", fmt.Errorf("%q: want host:port:user:pass", redact(s))
		}
		user, hostport = url.UserPassword(parts[2], parts[3]), parts[0]+":"+parts[1]
	}
	if err := checkHostPort(hostport); err != nil {
		return "", fmt.Errorf("%q is not a proxy (want host:port, host:port:user:pass or scheme://[user:pass@]host:port): %w", redact(s), err)
	}
	return (&url.URL{Scheme: "http", User: user, Host: hostport}).String(), nil
}

func checkHostPort(hp string) error {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return fmt.Errorf("missing or malformed port")
	}
	if !validHost(host) {
		return fmt.Errorf("bad host %q", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not 1-65535", port)
	}
	return nil
}

// redact hides the password of any proxy form, so errors can be logged.
func redact(s string) string {
	s = textutil.Short(s)
	if i := strings.Index(s, "://"); i >= 0 {
		if u, err := url.Parse(s); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "xxx")
				return u.String()
			}
		}
		return s
	}
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		if name, _, ok := strings.Cut(s[:at], ":"); ok {
			return name + ":xxx" + s[at:]
		}
		return s
	}
	if parts := strings.SplitN(s, ":", 4); len(parts) == 4 {
		return strings.Join(parts[:3], ":") + ":xxx"
	}
	return s
}

// parseProxyFile reads one proxy a line; blank lines and '#' comments are
// skipped. Problems carry their line number.
func parseProxyFile(data []byte) (proxies []string, lineErrs map[int]error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		p, err := ParseProxy(t)
		if err != nil {
			if lineErrs == nil {
				lineErrs = map[int]error{}
			}
			lineErrs[line] = err
			continue
		}
		proxies = append(proxies, p)
	}
	if err := sc.Err(); err != nil {
		if lineErrs == nil {
			lineErrs = map[int]error{}
		}
		lineErrs[line+1] = fmt.Errorf("unreadable: %w", err)
	}
	return proxies, lineErrs
}

// validHost accepts a DNS name or an IP address (IPv6 without brackets, as
// net.SplitHostPort returns it).
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
