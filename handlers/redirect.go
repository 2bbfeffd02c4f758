package handlers

import (
	"net/url"
	"strings"
)

// safeNext keeps ?next= only when it is a same-origin relative path as a
// browser would read it, so a sign-in can never send the user to another
// site. Browsers strip tabs and newlines from a URL, read a backslash as a
// slash, and take a leading "//" (or "/\") as another host; a value that
// needs any of those readings, has any other control character, or does
// so once percent-decoded, is refused ("" means: go to the role's home).
func safeNext(p string) string {
	if !sameOriginPath(p) {
		return ""
	}
	// Every decoded form must pass too: a value decoded further by a
	// proxy or a later redirect must not become another host.
	for dec, i := p, 0; i < 4; i++ {
		next, err := url.PathUnescape(dec)
		if err != nil || !sameOriginPath(next) {
			return ""
		}
		if next == dec {
			break
		}
		dec = next
	}
	if strings.HasPrefix(p, "/login") || strings.HasPrefix(p, "/logout") {
		return ""
	}
	return p
}

// sameOriginPath reports whether p is "/" followed by a path that no
// browser normalisation can turn into another origin.
func sameOriginPath(p string) bool {
	if len(p) == 0 || len(p) > 2048 || p[0] != '/' {
		return false
	}
	for _, r := range p {
		// Control characters (tab, CR, LF, NUL...) are stripped or
		// rejected by browsers; a backslash is a slash in http URLs.
		if r < 0x20 || r == 0x7f || r == '\\' || (r >= 0x80 && r <= 0x9f) || r == '\u2028' || r == '\u2029' || r == '\ufeff' {
			return false
		}
	}
	if len(p) > 1 && p[1] == '/' {
		return false
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	// Resolved against any origin, it must stay on that origin.
	base := &url.URL{Scheme: "https", Host: "stockline.invalid", Path: "/"}
	r := base.ResolveReference(u)
	return r.Scheme == base.Scheme && r.Host == base.Host
}
