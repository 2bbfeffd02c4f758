package handlers

// serveWithTimeout runs each request's handler on a goroutine of its own.
// A fresh goroutine starts with a small stack that the handler's depth
// (middleware, database driver, templates) grows by copying, two or three
// times per request: about a seventh of a search page's CPU. Handlers
// therefore run on reused goroutines whose stacks have already grown: a
// goroutine that finishes a handler waits for the next one, up to
// maxIdleRunners of them; when none is idle a new one starts, so a
// handler never waits for another (one stuck past its time-out only keeps
// its goroutine, as before).
//
// 16 idle goroutines cover the handlers a 2-core instance runs at once in
// the benchmarks (2 to 32 clients; beyond 16 a fresh goroutine starts, as
// before), and keep what a quiet server holds small: the soak's leak check
// allows 25 goroutines of growth over a run, and 64 idle ones failed it.
const maxIdleRunners = 16

type runners struct {
	idle chan chan func()
}

func newRunners() *runners { return &runners{idle: make(chan chan func(), maxIdleRunners)} }

// run starts f on an idle goroutine, or on a new one when none is idle.
func (rs *runners) run(f func()) {
	select {
	case next := <-rs.idle:
		next <- f
	default:
		go rs.loop(f)
	}
}

// loop runs f, then offers itself for the next function, and ends when
// enough goroutines are idle already.
func (rs *runners) loop(f func()) {
	next := make(chan func())
	for {
		f()
		select {
		case rs.idle <- next:
		default:
			return
		}
		f = <-next
	}
}
