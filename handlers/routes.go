package handlers

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"stockline/domain"
	"stockline/static"
	"stockline/views"
)

// Who may use which pages. A list used by more than one row is named
// here; the rows below are the only place a route's access is written.
var (
	allRoles          = domain.Roles // every signed-in person
	pickupRoles       = []domain.Role{domain.RoleAssociate, domain.RoleManager, domain.RoleAdmin}
	orderSearchRoles  = []domain.Role{domain.RoleSupport, domain.RoleManager, domain.RoleInventoryLead, domain.RoleAdmin}
	orderActRoles     = []domain.Role{domain.RoleSupport, domain.RoleAssociate, domain.RoleManager, domain.RoleAdmin}
	shipRoles         = []domain.Role{domain.RoleAssociate, domain.RoleManager, domain.RoleInventoryLead, domain.RoleAdmin}
	returnRoles       = []domain.Role{domain.RoleAssociate, domain.RoleManager, domain.RoleInventoryLead, domain.RoleAdmin} // associates for their stores
	adjusters         = []domain.Role{domain.RoleInventoryLead, domain.RoleAdmin}                                           // change stock by hand
	policyEditors     = []domain.Role{domain.RoleInventoryLead, domain.RoleAdmin}                                           // see and change channel policies
	countRoles        = []domain.Role{domain.RoleAssociate, domain.RoleInventoryLead, domain.RoleAdmin}                     // associates for their own stores
	connectorRoles    = []domain.Role{domain.RoleAdmin, domain.RoleInventoryLead}                                           // run the feeds
	notificationRoles = []domain.Role{domain.RoleSupport, domain.RoleAdmin}                                                 // customer messages
	adminRoles        = []domain.Role{domain.RoleAdmin}
	slaEditors        = []domain.Role{domain.RoleInventoryLead, domain.RoleAdmin}                                           // exception due times
	reconRoles        = []domain.Role{domain.RoleInventoryLead, domain.RoleManager, domain.RoleAdmin}                       // the reconciliation dashboard (managers: their stores)
	thresholdEditors  = []domain.Role{domain.RoleInventoryLead, domain.RoleAdmin}                                           // drift thresholds and hand-started runs
	transferRoles     = []domain.Role{domain.RoleAssociate, domain.RoleManager, domain.RoleInventoryLead, domain.RoleAdmin} // request, see, ship, receive (scoped to their ends)
	approveRoles      = []domain.Role{domain.RoleManager, domain.RoleAdmin}                                                 // approve or reject (origin in scope)
	writeOffRoles     = []domain.Role{domain.RoleManager, domain.RoleInventoryLead, domain.RoleAdmin}                       // write a transfer's missing units off as lost
	suggestRoles      = []domain.Role{domain.RoleManager, domain.RoleInventoryLead, domain.RoleAdmin}
	ruleRoles         = []domain.Role{domain.RoleManager, domain.RoleAdmin} // approval rules
	catalogScopes     = []string{domain.ScopeAvailability, domain.ScopeInventory}
)

// routes is the route table: every route Stockline serves, with who may
// use it. A page row may also name its link in the top navigation (nav;
// links appear in table order, for the row's roles) and the roles whose
// first screen it is (home; each role has exactly one). The router, the
// role and scope checks, the navigation, the role homes and the role
// matrix test (RouteAccess) are all built from these rows, and New
// refuses a table that breaks those rules. To add a route, add a row.
//
// The table is three lists only to keep each function short; read them
// as one, in this order.
func (s *Server) routes() []route {
	return slices.Concat(s.publicRoutes(), s.pageRoutes(), s.apiRoutes())
}

// get and post keep the rows short.
const (
	get  = http.MethodGet
	post = http.MethodPost
)

// publicRoutes: anyone may use them (static files, health, sign-in,
// webhooks), or any signed-in person (sign-out, the home redirect).
func (s *Server) publicRoutes() []route {
	return []route{
		public(get, "/static/*", echo.WrapHandler(http.StripPrefix("/static/", static.Handler()))),
		public(get, "/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") }),
		public(get, "/readyz", s.readyz),
		public(get, "/login", s.handleLoginForm),
		public(post, "/login", s.handleLogin),
		page(post, "/logout", s.handleLogout, allRoles...),
		page(get, "/", s.handleHome, allRoles...),

		// Webhooks: no session, no CSRF, no token; the platform signs each
		// body with the shared secret instead, and nothing is read before
		// the signature checks out.
		public(post, "/webhooks/shopify", s.handleShopifyWebhook),
	}
}

// pageRoutes are the pages and their htmx partials and form posts, in
// navigation order: a row's nav link appears where the row is.
func (s *Server) pageRoutes() []route {
	cp := s.newConnectorPages()
	return []route{
		page(get, "/pickups", s.handlePickupQueue, pickupRoles...).inNav("Pickups").home(domain.RoleAssociate),
		page(get, "/pickups/list", s.handlePickupList, pickupRoles...),
		page(get, "/pickups/find", s.handlePickupFind, pickupRoles...),
		page(get, "/pickups/:id", s.handlePickScreen, pickupRoles...),
		page(post, "/pickups/:id/lines/:line/pick", s.handlePickLine, pickupRoles...),
		page(post, "/pickups/:id/lines/:line/reject", s.handleRejectLine, pickupRoles...),
		page(post, "/pickups/:id/lines/:line/reallocate", s.handleReallocateLine, pickupRoles...),
		page(post, "/pickups/:id/lines/:line/cancel", s.handlePickCancelLine, pickupRoles...),
		page(post, "/pickups/:id/handover", s.handleHandOver, pickupRoles...),
		page(post, "/pickups/:id/pickup-location", s.handlePickPickupChange, pickupRoles...),

		page(get, "/orders", s.handleOrdersPage, orderSearchRoles...).inNav("Orders").home(domain.RoleSupport),
		page(get, "/orders/:id", s.handleOrderPage, allRoles...),
		page(post, "/orders/:id/notes", s.handleOrderNote, orderActRoles...),
		page(post, "/orders/:id/lines/:line/cancel", s.handleOrderLineCancel, orderActRoles...),
		page(post, "/orders/:id/pickup-location", s.handleOrderPickupChange, orderActRoles...),
		page(post, "/orders/:id/ship", s.handleOrderShip, shipRoles...),

		page(get, "/returns", s.handleReturnsDesk, returnRoles...).inNav("Returns"),
		page(post, "/returns", s.handleReturnCreatePage, returnRoles...),
		page(get, "/returns/:id", s.handleReturnShow, returnRoles...),
		page(post, "/returns/:id/receive", s.handleReturnReceivePage, returnRoles...),
		page(post, "/returns/:id/lines/:line/release", s.handleReturnRelease, returnRoles...),

		page(get, "/exceptions", s.handleExceptionQueue, allRoles...).inNav("Exceptions").home(domain.RoleManager, domain.RoleInventoryLead),
		page(get, "/exceptions/list", s.handleExceptionList, allRoles...),
		page(post, "/exceptions/bulk", s.handleExceptionBulk, allRoles...),
		page(get, "/exceptions/slas", s.handleExceptionSLAs, allRoles...),
		page(post, "/exceptions/slas", s.handleExceptionSLASave, slaEditors...),
		page(get, "/exceptions/:id", s.handleExceptionShow, allRoles...),
		page(post, "/exceptions/:id/take", s.handleExceptionTake, allRoles...),
		page(post, "/exceptions/:id/close", s.handleExceptionClose, allRoles...),
		page(post, "/exceptions/:id/resolve", s.handleExceptionResolve, allRoles...),

		page(get, "/transfers", s.handleTransfersPage, transferRoles...).inNav("Transfers"),
		page(post, "/transfers", s.handleTransferCreatePage, transferRoles...),
		page(get, "/transfers/new", s.handleTransferNew, transferRoles...),
		page(get, "/transfers/approvals", s.handleTransferApprovals, approveRoles...).inNav("Approvals"),
		page(get, "/transfers/suggested", s.handleTransferSuggested, suggestRoles...),
		page(get, "/transfers/rules", s.handleTransferRules, ruleRoles...),
		page(post, "/transfers/rules", s.handleTransferRuleSave, ruleRoles...),
		page(post, "/transfers/rules/:id", s.handleTransferRuleSave, ruleRoles...),
		page(get, "/transfers/:id", s.handleTransferPage, transferRoles...),
		page(post, "/transfers/:id/approve", s.handleTransferDecide(true), approveRoles...),
		page(post, "/transfers/:id/reject", s.handleTransferDecide(false), approveRoles...),
		page(post, "/transfers/:id/ship", s.handleTransferShip, transferRoles...),
		page(post, "/transfers/:id/receive", s.handleTransferReceive, transferRoles...),
		page(post, "/transfers/:id/cancel", s.handleTransferCancelPage, transferRoles...),
		page(post, "/transfers/:id/found", s.handleTransferSettle(true), transferRoles...),
		page(post, "/transfers/:id/lost", s.handleTransferSettle(false), writeOffRoles...),

		page(get, "/inventory", s.handleInventorySearch, allRoles...).inNav("Inventory"),
		page(get, "/inventory/:sku", s.handleSKU, allRoles...),
		page(get, "/inventory/:sku/adjust", s.handleAdjustForm, adjusters...),
		page(post, "/inventory/:sku/adjust", s.handleAdjust, adjusters...),
		page(get, "/locations", s.handleLocations, allRoles...).inNav("Locations"),

		page(get, "/reservations", s.handleReservationsPage, allRoles...).inNav("Reservations"),
		page(post, "/reservations/:id/release", s.handleReservationReleaseForm, allRoles...),

		page(get, "/policies", s.handlePolicies, policyEditors...).inNav("Channel policies"),
		page(post, "/policies/:channel", s.handlePolicySave, policyEditors...),

		page(get, "/counts", s.handleCountsPage, countRoles...).inNav("Counts"),
		page(post, "/counts", s.handleCountUpload, countRoles...),
		page(get, "/counts/:id", s.handleCountUploadShow, countRoles...),
		page(post, "/counts/:id/apply", s.handleCountUploadApply, countRoles...),

		page(get, "/reconciliation", s.handleReconDashboard, reconRoles...).inNav("Reconciliation"),
		page(post, "/reconciliation/runs", s.handleReconRunStart, thresholdEditors...),
		page(get, "/reconciliation/runs/:id", s.handleReconRunRow, reconRoles...),
		page(get, "/reconciliation/thresholds", s.handleThresholds, thresholdEditors...),
		page(post, "/reconciliation/thresholds", s.handleThresholdSave, thresholdEditors...),
		page(post, "/reconciliation/thresholds/:id/delete", s.handleThresholdDelete, thresholdEditors...),

		page(get, "/connectors", cp.list, connectorRoles...).inNav("Connectors"),
		page(post, "/connectors", cp.create, domain.RoleAdmin),
		page(get, "/connectors/:id", cp.show, connectorRoles...),
		page(post, "/connectors/:id", cp.update, connectorRoles...),
		page(post, "/connectors/:id/pause", cp.pause, connectorRoles...),
		page(post, "/connectors/:id/resume", cp.resume, connectorRoles...),
		page(post, "/connectors/:id/mappings", cp.addMapping, connectorRoles...),
		page(get, "/connectors/:id/dead-letters/:dl", cp.deadLetter, connectorRoles...),
		page(post, "/connectors/:id/dead-letters/:dl/retry", cp.retry, connectorRoles...),
		page(post, "/connectors/:id/dead-letters/:dl/fix", cp.fix, connectorRoles...),
		page(post, "/connectors/:id/dead-letters/:dl/dismiss", cp.dismiss, connectorRoles...),

		page(get, "/dashboards/operations", s.handleOpsDashboard, opsDashRoles...).inNav("Operations"),
		page(get, "/dashboards/store", s.handleMyStoreDashboard, storeDashRoles...).inNav("My store"),
		page(get, "/dashboards/stores/:code", s.handleStoreDashboard, storeDashRoles...),
		page(get, "/dashboards/inventory-accuracy", s.handleAccuracyDashboard, accuracyDashRoles...).inNav("Accuracy"),
		page(get, "/dashboards/fulfilment", s.handleFulfilmentDashboard, fulfilDashRoles...).inNav("Fulfilment"),
		page(get, "/dashboards/drill", s.handleDrill, drillRoles...),

		page(get, "/admin/users", s.handleAdminUsers, adminRoles...).inNav("Users").home(domain.RoleAdmin),
		page(post, "/admin/users", s.handleAdminUserCreate, adminRoles...),
		page(get, "/admin/users/:id", s.handleAdminUser, adminRoles...),
		page(post, "/admin/users/:id", s.handleAdminUserUpdate, adminRoles...),
		page(post, "/admin/users/:id/unlock", s.handleAdminUserUnlock, adminRoles...),
		page(get, "/admin/tokens", s.handleAdminTokens, adminRoles...).inNav("API tokens"),
		page(post, "/admin/tokens", s.handleAdminTokenCreate, adminRoles...),
		page(post, "/admin/tokens/:id/revoke", s.handleAdminTokenRevoke, adminRoles...),
		page(get, "/admin/audit", s.handleAdminAudit, adminRoles...).inNav("Audit"),

		page(get, "/notifications", s.handleNotificationsPage, notificationRoles...).inNav("Customer messages"),
		page(get, "/notifications/templates", s.handleTemplatesPage, notificationRoles...),
		page(post, "/notifications/templates/:kind", s.handleTemplateSave, notificationRoles...),
		page(get, "/notifications/:id", s.handleNotificationShow, notificationRoles...),
	}
}

// apiRoutes are the JSON API: bearer tokens with any of the listed scopes
// (the admin scope opens every route).
func (s *Server) apiRoutes() []route {
	return []route{
		api(get, "/api/v1/availability", s.handleAvailabilityAPI, catalogScopes...),
		api(get, "/api/v1/availability/feed", s.handleAvailabilityFeed, catalogScopes...),
		api(get, "/api/v1/products", s.handleProductsAPI, catalogScopes...),
		api(get, "/api/v1/locations", s.handleLocationsAPI, catalogScopes...),
		api(post, "/api/v1/adjustments", s.handleAdjustmentAPI, domain.ScopeInventory),
		api(post, "/api/v1/reservations", s.handleReserve, domain.ScopeReservations),
		api(get, "/api/v1/reservations/:id", s.handleReservationGet, domain.ScopeReservations),
		api(post, "/api/v1/reservations/:id/commit", s.handleReservationCommit, domain.ScopeReservations),
		api(post, "/api/v1/reservations/:id/release", s.handleReservationRelease, domain.ScopeReservations),
		api(post, "/api/v1/orders", s.handleOrderCreate, domain.ScopeOrders),
		api(get, "/api/v1/orders", s.handleOrderSearchAPI, domain.ScopeOrders),
		api(get, "/api/v1/orders/:id", s.handleOrderGetAPI, domain.ScopeOrders),
		api(post, "/api/v1/orders/:id/cancel", s.handleOrderCancelAPI, domain.ScopeOrders),
		api(post, "/api/v1/orders/:id/fulfilments", s.handleOrderFulfilmentAPI, domain.ScopeOrders),
		api(post, "/api/v1/transfers", s.handleTransferCreate, domain.ScopeTransfers),
		api(get, "/api/v1/transfers", s.handleTransferListAPI, domain.ScopeTransfers),
		api(get, "/api/v1/transfers/:id", s.handleTransferGetAPI, domain.ScopeTransfers),
		api(post, "/api/v1/transfers/:id/ship", s.handleTransferShipAPI, domain.ScopeTransfers),
		api(post, "/api/v1/transfers/:id/receive", s.handleTransferReceiveAPI, domain.ScopeTransfers),
		api(post, "/api/v1/transfers/:id/cancel", s.handleTransferCancelAPI, domain.ScopeTransfers),
		// Approval is a manager's act: a system with the transfers scope
		// requests, ships and receives, but only an admin token decides.
		api(post, "/api/v1/transfers/:id/approve", s.handleTransferDecideAPI(true), domain.ScopeAdmin),
		api(post, "/api/v1/transfers/:id/reject", s.handleTransferDecideAPI(false), domain.ScopeAdmin),
		api(get, "/api/v1/exceptions", s.handleExceptionsAPI, domain.ScopeExceptions),
		api(get, "/api/v1/exceptions/:id", s.handleExceptionGetAPI, domain.ScopeExceptions),
		api(post, "/api/v1/exceptions/:id/resolve", s.handleExceptionResolveAPI, domain.ScopeExceptions),
		api(post, "/api/v1/returns", s.handleReturnCreate, domain.ScopeReturns),
		api(get, "/api/v1/returns/:id", s.handleReturnGetAPI, domain.ScopeReturns),
		api(get, "/api/v1/metrics/cancellations", s.handleCancellationsAPI, domain.ScopeMetrics),
		api(get, "/api/v1/metrics/bopis", s.handleBOPISAPI, domain.ScopeMetrics),
	}
}

// route is one row of the route table.
type route struct {
	method, path string
	handler      echo.HandlerFunc
	access       Access
	nav          string        // label of the page's link in the top navigation; "" for none
	homeOf       []domain.Role // roles whose first screen (after sign-in, and at /) this page is
}

// page is a page or htmx route for signed-in users with one of roles.
func page(method, path string, h echo.HandlerFunc, roles ...domain.Role) route {
	return route{method: method, path: path, handler: h, access: Access{Roles: roles}}
}

// api is a JSON API route for bearer tokens with one of scopes.
func api(method, path string, h echo.HandlerFunc, scopes ...string) route {
	return route{method: method, path: path, handler: h, access: Access{Scopes: scopes}}
}

// public is a route anyone may use.
func public(method, path string, h echo.HandlerFunc) route {
	return route{method: method, path: path, handler: h, access: Access{Public: true}}
}

// inNav gives the page a link labelled label in the top navigation, shown
// to the page's roles.
func (r route) inNav(label string) route { r.nav = label; return r }

// home makes the page the first screen of roles.
func (r route) home(roles ...domain.Role) route { r.homeOf = roles; return r }

// mount registers the table on the router with each row's access check,
// and derives the navigation and the role homes from it. It panics on a
// table that breaks its rules, so a bad row fails every test at once.
func (s *Server) mount(table []route) {
	s.nav, s.home = map[domain.Role][]views.NavItem{}, map[domain.Role]string{}
	for _, r := range table {
		key := r.method + " " + r.path
		if _, dup := s.access[key]; dup {
			panic("handlers: route " + key + " is in the table twice")
		}
		a := r.access
		var check []echo.MiddlewareFunc
		switch {
		case a.Public:
		case len(a.Roles) > 0:
			check = append(check, s.requireRole(a.Roles...))
		case len(a.Scopes) > 0:
			check = append(check, s.requireToken(a.Scopes...))
		default:
			panic("handlers: route " + key + " has no roles, scopes or public access")
		}
		if (r.nav != "" || len(r.homeOf) > 0) && (r.method != http.MethodGet || len(a.Roles) == 0) {
			panic("handlers: route " + key + ": only a GET page can be in the navigation or a role's home")
		}
		s.access[key] = a
		s.Echo.Add(r.method, r.path, r.handler, check...)
		for _, role := range a.Roles {
			if r.nav != "" {
				s.nav[role] = append(s.nav[role], views.NavItem{Label: r.nav, Href: r.path})
			}
		}
		for _, role := range r.homeOf {
			if !slices.Contains(a.Roles, role) {
				panic("handlers: " + key + " is " + string(role) + "'s home but refuses that role")
			}
			if prev, ok := s.home[role]; ok {
				panic("handlers: " + string(role) + " has two homes, " + prev + " and " + r.path)
			}
			s.home[role] = r.path
		}
	}
	for _, role := range domain.Roles {
		if s.home[role] == "" {
			panic("handlers: role " + string(role) + " has no home page in the route table")
		}
	}
}
