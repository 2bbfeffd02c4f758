// Package views holds Stockline's templ components: a layout, one file per
// resource, and partials as their own components so htmx can swap them.
package views

import (
	"fmt"
	"strings"
	"time"

	"stockline/domain"
)

// Ctx is what every page needs from the request.
type Ctx struct {
	User *domain.User
	CSRF string
	Path string
	Nav  []NavItem // the links the user's role may follow (handlers derive them from the route table)
}

// NavItem is one link in the top navigation.
type NavItem struct {
	Label string
	Href  string
	Count int // work waiting behind the link (approvals, transfers to receive); 0 shows nothing
}

// active reports whether href is the current page's link: the path is it
// or under it, and no longer link matches (/transfers/approvals is not
// also /transfers).
func active(v Ctx, href string) bool {
	under := func(h string) bool { return v.Path == h || strings.HasPrefix(v.Path, h+"/") }
	if !under(href) {
		return false
	}
	for _, n := range v.Nav {
		if len(n.Href) > len(href) && under(n.Href) {
			return false
		}
	}
	return true
}

// Qty formats a quantity for a right-aligned cell.
func Qty(n int) string { return fmt.Sprint(n) }

// Ago says how long ago t was, in words staff read at a glance.
func Ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// Stamp formats a time in the given IANA zone with the zone shown.
func Stamp(t time.Time, tz string) string {
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "" {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

func csrfHeaders(v Ctx) string {
	return fmt.Sprintf(`{"X-CSRF-Token": %q}`, v.CSRF)
}
