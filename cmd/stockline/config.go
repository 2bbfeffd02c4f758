package main

import (
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is every setting, read once from the environment. .env.example
// lists each variable with its default.
type Config struct {
	HTTPAddr             string
	DatabaseURL          string // empty: run the private cluster under DataDir
	DataDir              string
	SessionSecret        string
	SessionIdle          time.Duration
	SessionAbsolute      time.Duration
	TLSCertFile          string
	TLSKeyFile           string
	TrustedProxies       []netip.Prefix
	LogFormat            string // json or text
	LogLevel             string // debug, info, warn, error
	LoginMaxPerAccount   int
	LoginMaxPerIP        int
	LoginWindow          time.Duration
	Simulators           bool   // start the built-in POS and ecommerce feed simulators
	ShopifyWebhookSecret string // verifies POST /webhooks/shopify
	ConnectorSecretKey   string // seals connector credentials (AES-256-GCM); empty: only env: references
	SweepInterval        time.Duration
	SMTPAddr             string        // host:port of the SMTP server customer messages go through; empty: the local outbox page
	SMTPFrom             string        // the From address of customer messages
	NotifyInterval       time.Duration // how often the outbox relay and notification sender run
	AlertWebhookURL      string        // POST a JSON message here for each new critical exception; empty: no webhook
	AlertEmail           string        // email each new critical exception here (through SMTP_ADDR); empty: no email
	AlertWindow          time.Duration // the alert rate limit's window
	AlertPerKey          int           // alerts per exception kind and location within the window
	AlertGlobal          int           // alerts in all within the window
	ExceptionSweep       time.Duration // how often overdue pickups are raised
	CheckInterval        time.Duration // how often the scheduled consistency check runs
	ReconInterval        time.Duration // how often the reconciliation worker looks for due and queued runs
	TransferOverdueDays  int           // a transfer in transit longer than this many days is flagged on /transfers
	FeedInStockMin       int           // availability feed: in_stock when network ATP is at least this
	FeedLowStock         int           // Google local inventory feed: limited_availability below this ATP
	RollupInterval       time.Duration // how often the metric rollups are rebuilt
}

// LoadConfig parses the environment. It fails on a value it cannot read,
// naming the variable.
func LoadConfig() (Config, error) {
	c := Config{
		HTTPAddr:             env("HTTP_ADDR", ":8080"),
		DatabaseURL:          env("DATABASE_URL", ""),
		DataDir:              env("DATA_DIR", ".data"),
		SessionSecret:        env("SESSION_SECRET", ""),
		TLSCertFile:          env("TLS_CERT_FILE", ""),
		TLSKeyFile:           env("TLS_KEY_FILE", ""),
		LogFormat:            env("LOG_FORMAT", "json"),
		LogLevel:             env("LOG_LEVEL", "info"),
		ShopifyWebhookSecret: env("SHOPIFY_WEBHOOK_SECRET", ""),
		ConnectorSecretKey:   env("CONNECTOR_SECRET_KEY", ""),
		SMTPAddr:             env("SMTP_ADDR", ""),
		SMTPFrom:             env("SMTP_FROM", "orders@stockline.local"),
		AlertWebhookURL:      env("ALERT_WEBHOOK_URL", ""),
		AlertEmail:           env("ALERT_EMAIL", ""),
	}
	var errs []string
	dur := func(name, def string) time.Duration {
		d, err := time.ParseDuration(env(name, def))
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Sprintf("%s must be a positive duration such as 30m", name))
		}
		return d
	}
	num := func(name, def string) int {
		n, err := strconv.Atoi(env(name, def))
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Sprintf("%s must be a positive whole number", name))
		}
		return n
	}
	c.SessionIdle = dur("SESSION_IDLE_TIMEOUT", "30m")
	c.SessionAbsolute = dur("SESSION_ABSOLUTE_TIMEOUT", "12h")
	c.LoginWindow = dur("LOGIN_THROTTLE_WINDOW", "15m")
	c.SweepInterval = dur("RESERVATION_SWEEP_INTERVAL", "1s")
	c.NotifyInterval = dur("NOTIFY_INTERVAL", "1s")
	c.AlertWindow = dur("ALERT_WINDOW", "15m")
	c.AlertPerKey = num("ALERT_MAX_PER_KIND_LOCATION", "1")
	c.AlertGlobal = num("ALERT_MAX_TOTAL", "20")
	c.ExceptionSweep = dur("EXCEPTION_SWEEP_INTERVAL", "30s")
	c.CheckInterval = dur("CHECK_INTERVAL", "15m")
	c.ReconInterval = dur("RECONCILIATION_POLL_INTERVAL", "2s")
	c.RollupInterval = dur("METRICS_ROLLUP_INTERVAL", "1m")
	c.LoginMaxPerAccount = num("LOGIN_MAX_FAILURES_PER_ACCOUNT", "5")
	c.LoginMaxPerIP = num("LOGIN_MAX_FAILURES_PER_IP", "30")
	c.TransferOverdueDays = num("TRANSFER_OVERDUE_DAYS", "3")
	c.FeedInStockMin = num("FEED_IN_STOCK_MIN", "1")
	c.FeedLowStock = num("FEED_LOW_STOCK", "3")
	sim, err := strconv.ParseBool(env("SIMULATORS", "false"))
	if err != nil {
		errs = append(errs, "SIMULATORS must be true or false")
	}
	c.Simulators = sim
	for _, p := range strings.Split(env("TRUSTED_PROXIES", ""), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if !strings.Contains(p, "/") {
			if a, err := netip.ParseAddr(p); err == nil {
				p = netip.PrefixFrom(a, a.BitLen()).String()
			}
		}
		pre, err := netip.ParsePrefix(p)
		if err != nil {
			errs = append(errs, fmt.Sprintf("TRUSTED_PROXIES: %q is not an IP or CIDR", p))
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, pre)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, "LOG_FORMAT must be json or text")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, "set both TLS_CERT_FILE and TLS_KEY_FILE, or neither")
	}
	if c.SessionSecret != "" && len(c.SessionSecret) < 32 {
		errs = append(errs, "SESSION_SECRET must be at least 32 characters")
	}
	if c.ConnectorSecretKey != "" && len(c.ConnectorSecretKey) < 32 {
		errs = append(errs, "CONNECTOR_SECRET_KEY must be at least 32 characters")
	}
	if c.AlertWebhookURL != "" {
		if u, err := url.Parse(c.AlertWebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, "ALERT_WEBHOOK_URL must be an http or https URL")
		}
	}
	if c.AlertEmail != "" && (c.SMTPAddr == "" || strings.ContainsAny(c.AlertEmail, "\r\n") || !strings.Contains(c.AlertEmail, "@")) {
		errs = append(errs, "ALERT_EMAIL must be an email address, and needs SMTP_ADDR to send through")
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}
