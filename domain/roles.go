package domain

import "slices"

// Role is what a signed-in person may do.
type Role string

// The roles (DESIGN §8).
const (
	RoleAssociate     Role = "associate"
	RoleSupport       Role = "support"
	RoleManager       Role = "manager"
	RoleInventoryLead Role = "inventory_lead"
	RoleAdmin         Role = "admin"
)

// Roles lists every role.
var Roles = []Role{RoleAssociate, RoleSupport, RoleManager, RoleInventoryLead, RoleAdmin}

// ParseRole returns the role named s or an EINVALID error.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !slices.Contains(Roles, r) {
		return "", FieldError("role", "Unknown role %q; use associate, support, manager, inventory_lead or admin.", s)
	}
	return r, nil
}

// Scoped reports whether the role sees only the locations in its scope.
// Associates and managers are scoped to their stores; the others see all.
func (r Role) Scoped() bool { return r == RoleAssociate || r == RoleManager }

// Label is the role's human name.
func (r Role) Label() string {
	switch r {
	case RoleAssociate:
		return "Store associate"
	case RoleSupport:
		return "Support agent"
	case RoleManager:
		return "Manager"
	case RoleInventoryLead:
		return "Inventory lead"
	case RoleAdmin:
		return "Admin"
	}
	return string(r)
}

// User is a person who signs in.
type User struct {
	ID        int64    `db:"id"`
	Email     string   `db:"email"`
	Name      string   `db:"name"`
	Role      Role     `db:"role"`
	Locations []string `db:"-"` // location codes in scope; empty for unscoped roles
	// LocationIDs are the ids of Locations, in the same order, as the store
	// loads them with the user (so a page need not look them up again);
	// never in the audit's copy of a user.
	LocationIDs []int64 `db:"-" json:"-"`
	Disabled    bool    `db:"disabled"`
}

// CanSeeLocation reports whether the user may see location code.
func (u *User) CanSeeLocation(code string) bool {
	if !u.Role.Scoped() {
		return true
	}
	return slices.Contains(u.Locations, code)
}

// API token scopes.
const (
	ScopeAvailability = "availability"
	ScopeInventory    = "inventory"
	ScopeReservations = "reservations"
	ScopeOrders       = "orders"
	ScopeTransfers    = "transfers"
	ScopeReturns      = "returns"
	ScopeExceptions   = "exceptions"
	ScopeMetrics      = "metrics"
	ScopeAdmin        = "admin"
)

// Scopes lists every API scope.
var Scopes = []string{ScopeAvailability, ScopeInventory, ScopeReservations, ScopeOrders, ScopeTransfers, ScopeReturns, ScopeExceptions, ScopeMetrics, ScopeAdmin}
