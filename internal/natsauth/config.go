package natsauth

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// ConfigOptions tune RenderConfig.
type ConfigOptions struct {
	// BcryptCost, if positive, stores plain-text passwords as bcrypt
	// hashes of this cost (4 … 31; nats-server's own `passwd` tool uses
	// 11). Zero writes them as given. Hashes and environment references
	// are always written as given.
	BcryptCost int
	// Comment is written at the top of the file, each line after "# ".
	Comment string
}

// RenderConfig returns a nats-server configuration file holding ids as
// the users of an authorization block, with the permissions of their
// roles: `nats-server -c FILE`, or `include` it from a larger
// configuration. The output is the same for the same input (but for
// the salts of bcrypt hashes).
func RenderConfig(ids []Identity, opt ConfigOptions) ([]byte, error) {
	if err := Check(ids); err != nil {
		return nil, err
	}
	if opt.BcryptCost != 0 && (opt.BcryptCost < bcrypt.MinCost || opt.BcryptCost > bcrypt.MaxCost) {
		return nil, fmt.Errorf("natsauth: ConfigOptions.BcryptCost = %d: want 0 or %d … %d", opt.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	var b bytes.Buffer
	for l := range strings.Lines(opt.Comment) {
		b.WriteString(strings.TrimRight("# "+strings.TrimRight(l, "\n"), " ") + "\n")
	}
	b.WriteString("authorization {\n  users = [\n")
	for i, id := range ids {
		pw := id.Password
		switch {
		case isEnvRef(pw): // unquoted: nats-server reads the variable
		case isBcrypt(pw) || opt.BcryptCost == 0:
			pw = strconv.Quote(pw)
		default:
			h, err := bcrypt.GenerateFromPassword([]byte(pw), opt.BcryptCost)
			if err != nil {
				return nil, fmt.Errorf("natsauth: hashing the password of %s: %w", id.Username(), err)
			}
			pw = strconv.Quote(string(h))
		}
		p := id.Permissions()
		fmt.Fprintf(&b, "    # %s %s\n    {\n", id.Role, id.Name)
		fmt.Fprintf(&b, "      user: %s\n      password: %s\n      permissions: {\n", strconv.Quote(id.Username()), pw)
		writeList(&b, "publish", p.Publish.Allow)
		writeList(&b, "subscribe", p.Subscribe.Allow)
		if r := p.Response; r != nil {
			fmt.Fprintf(&b, "        allow_responses: { max: %d, expires: %q }\n", r.MaxMsgs, r.Expires.String())
		}
		b.WriteString("      }\n    }")
		if i < len(ids)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("  ]\n}\n")
	return b.Bytes(), nil
}

// writeList writes an allow list, one quoted subject a line.
func writeList(b *bytes.Buffer, key string, subjects []string) {
	fmt.Fprintf(b, "        %s: {\n          allow: [\n", key)
	for i, s := range subjects {
		b.WriteString("            " + strconv.Quote(s))
		if i < len(subjects)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("          ]\n        }\n")
}
