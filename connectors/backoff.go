package connectors

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff spaces out retries after transient failures: exponential from
// Base, capped at Max, with jitter so that many instances (or many feeds)
// failing together do not retry in lockstep.
type Backoff struct {
	Base time.Duration // first delay; default 1s
	Max  time.Duration // cap; default 5m
}

// Delay is the wait before retry number attempt (0 for the first retry).
// The result lies in [d/2, d] where d = min(Max, Base·2^attempt) ("equal
// jitter"). A source's Retry-After is honoured: the wait is never shorter
// than retryAfter.
func (b Backoff) Delay(attempt int, retryAfter time.Duration) time.Duration {
	base, ceil := b.Base, b.Max
	if base <= 0 {
		base = time.Second
	}
	if ceil <= 0 {
		ceil = 5 * time.Minute
	}
	d := ceil
	if attempt < 30 && base<<attempt > 0 && base<<attempt < ceil {
		d = base << attempt
	}
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	if retryAfter > d {
		// Wait what the source asked, plus a little jitter of our own.
		d = retryAfter + time.Duration(rand.Int64N(int64(retryAfter/10)+1))
	}
	return d
}

// HTTPError is a source answering with a status other than 2xx.
type HTTPError struct {
	Status     int
	RetryAfter time.Duration // from the Retry-After header, when sent
	Detail     string        // a short excerpt of the body
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("source answered %d %s", e.Status, http.StatusText(e.Status))
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Transient reports whether waiting may help: rate limiting and server-side
// failures. Other statuses (401, 404…) are set-up problems; the loop still
// backs off on them, at the same pace, and shows them as failing.
func (e *HTTPError) Transient() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// retryAfterOf returns the Retry-After a failure carried, or 0.
func retryAfterOf(err error) time.Duration {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.RetryAfter
	}
	return 0
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP
// date. Anything unreadable or in the past is 0; anything over an hour is
// an hour.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs != secs {
			return 0
		}
		if secs > 3600 {
			secs = 3600
		}
		d = time.Duration(secs * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d < 0 {
		return 0
	}
	return min(d, time.Hour)
}
