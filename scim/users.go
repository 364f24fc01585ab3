package scim

import (
	"fmt"
	"net/http"

	elimity "github.com/elimity-com/scim"

	"github.com/onramp-dev/onramp/store"
)

// userHandler implements the library's ResourceHandler for /Users. The
// library has validated bodies against the User schema (canonical names,
// types, required attributes, read-only ones dropped) before it calls us.
type userHandler struct{ h *Handler }

func (u *userHandler) Create(r *http.Request, attrs elimity.ResourceAttributes) (elimity.Resource, error) {
	user := &store.User{Attributes: userAttributes(attrs)}
	ev := u.h.event(r, "user.create", "User", "", http.StatusCreated, "created user "+quote(user.UserName()))
	if err := u.h.store.CreateUser(r.Context(), user, ev); err != nil {
		return elimity.Resource{}, u.h.fail(r, ev, err)
	}
	return u.render(r, user), nil
}

func (u *userHandler) Get(r *http.Request, id string) (elimity.Resource, error) {
	user, err := u.h.store.GetUser(r.Context(), id)
	if err != nil {
		return elimity.Resource{}, u.h.scimError(r, err)
	}
	return u.render(r, user), nil
}

// GetAll is never reached: Handler.ServeHTTP answers list requests itself.
func (u *userHandler) GetAll(r *http.Request, _ elimity.ListRequestParams) (elimity.Page, error) {
	return elimity.Page{}, u.h.scimError(r, fmt.Errorf("scim: user GetAll called; lists are served by Handler.list"))
}

func (u *userHandler) Replace(r *http.Request, id string, attrs elimity.ResourceAttributes) (elimity.Resource, error) {
	next := userAttributes(attrs)
	ev := u.h.event(r, "user.replace", "User", id, http.StatusOK, "replaced user "+quote(stringAttr(next, "userName")))
	user, err := u.h.store.UpdateUser(r.Context(), id, func(cur *store.User) error {
		cur.Attributes = next
		return nil
	}, ev, preconditions(r)...)
	if err != nil {
		return elimity.Resource{}, u.h.fail(r, ev, err)
	}
	return u.render(r, user), nil
}

func (u *userHandler) Patch(r *http.Request, id string, ops []elimity.PatchOperation) (elimity.Resource, error) {
	ev := u.h.event(r, "user.patch", "User", id, patchStatus(r), "patched user: "+describeOps(ops))
	user, err := u.h.store.UpdateUser(r.Context(), id, func(cur *store.User) error {
		next, err := applyUserPatch(cur.Attributes, ops)
		if err != nil {
			return err
		}
		cur.Attributes = next
		return nil
	}, ev, preconditions(r)...)
	if err != nil {
		return elimity.Resource{}, u.h.fail(r, ev, err)
	}
	return patchResult(r, user.Version, func() elimity.Resource { return u.render(r, user) }), nil
}

func (u *userHandler) Delete(r *http.Request, id string) error {
	ev := u.h.event(r, "user.delete", "User", id, http.StatusNoContent, "deleted user")
	if err := u.h.store.DeleteUser(r.Context(), id, ev, preconditions(r)...); err != nil {
		return u.h.fail(r, ev, err)
	}
	return nil
}

// render applies the request's projection to a stored user.
func (u *userHandler) render(r *http.Request, user *store.User) elimity.Resource {
	res := userResource(user, u.h.baseURL(r))
	p := parseProjection(r)
	p.apply(res.Attributes)
	if !p.wants("externalId") {
		res.ExternalID = elimity.Resource{}.ExternalID
	}
	return res
}

// userAttributes is what Onramp stores of a validated user body.
func userAttributes(attrs elimity.ResourceAttributes) map[string]any {
	m := wrapSingles(kindUser, map[string]any(attrs))
	delete(m, "password") // never kept; see userSchema
	delete(m, "groups")   // computed from memberships on read
	return m
}

// wrapSingles puts a lone object given for a multi-valued attribute of a
// validated body ("emails": {"value": ...}, which the library lets
// through) into an array, as the PATCH applier does, so that what is
// stored and returned is always an array. It changes m in place and
// returns it.
func wrapSingles(kind resourceKind, m map[string]any) map[string]any {
	for _, a := range catalogFor(kind).Attrs {
		if !a.MultiValued || a.isExtension() {
			continue
		}
		if obj, ok := m[a.Name].(map[string]any); ok {
			m[a.Name] = []any{obj}
		}
	}
	return m
}

func stringAttr(m map[string]any, name string) string {
	s, _ := m[name].(string)
	return s
}
