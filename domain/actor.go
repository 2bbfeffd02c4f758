package domain

// Actor is who or what caused a change: a signed-in user, an API token, a
// connector or a background job. Every audit, ledger and timeline row names one.
type Actor struct {
	Kind      string // "user", "token", "connector" or "system"
	Name      string // email, token name, connector name or job name
	UserID    int64  // set for users
	RequestID string // the request that caused it, when there was one
}

// String is the actor as recorded on rows, e.g. "user:ann@example.com".
func (a Actor) String() string { return a.Kind + ":" + a.Name }

// SystemActor names a background job as an actor.
func SystemActor(job string) Actor { return Actor{Kind: "system", Name: job} }
