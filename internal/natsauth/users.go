package natsauth

import (
	"fmt"

	"github.com/nats-io/nats-server/v2/server"
)

// Check validates every identity and the set: user names are unique, and
// no worker shares its ID with a sampler (both speak on the join
// subjects, which name them by ID alone).
func Check(ids []Identity) error {
	users := map[string]bool{}
	members := map[string]Role{}
	for _, id := range ids {
		if err := id.Validate(); err != nil {
			return err
		}
		if users[id.Username()] {
			return fmt.Errorf("%w: user %s twice", ErrIdentity, id.Username())
		}
		users[id.Username()] = true
		if id.Role == Worker || id.Role == Sampler {
			if r, ok := members[id.Name]; ok {
				return fmt.Errorf("%w: ID %q is both a %s and a %s", ErrIdentity, id.Name, r, id.Role)
			}
			members[id.Name] = id.Role
		}
	}
	return nil
}

// Users returns the nats-server users of ids, for server.Options.Users
// (an embedded server). Passwords go in as given, plain text or bcrypt
// hashes; environment references are refused (only a configuration file
// can resolve them).
func Users(ids []Identity) ([]*server.User, error) {
	if err := Check(ids); err != nil {
		return nil, err
	}
	out := make([]*server.User, 0, len(ids))
	for _, id := range ids {
		if isEnvRef(id.Password) {
			return nil, fmt.Errorf("%w: %s: password %s is an environment reference, which only a configuration file resolves", ErrIdentity, id.Username(), id.Password)
		}
		out = append(out, &server.User{Username: id.Username(), Password: id.Password, Permissions: id.Permissions()})
	}
	return out, nil
}
