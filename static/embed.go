// Package static embeds the CSS, the small app script and the vendored
// htmx and Pico CSS, served under /static/ with no CDN.
package static

import (
	"embed"
	"net/http"
)

//go:embed app.css app.js vendor
var FS embed.FS

// Handler serves the embedded files. Vendored files carry their version in
// their name, so they may be cached for a long time.
func Handler() http.Handler {
	fs := http.FileServerFS(FS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.URL.Path) > 7 && r.URL.Path[:7] == "vendor/" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		fs.ServeHTTP(w, r)
	})
}
