package connectors

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"regexp"
	"strings"

	"stockline/domain"
	"stockline/store"
)

// Sealer encrypts connector credentials with AES-256-GCM under a key from
// CONNECTOR_SECRET_KEY, so the database never holds them in clear.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the AES-256 key as the SHA-256 of secret (any string of
// 32 or more characters). An empty secret gives a nil Sealer, which can
// only hold env: references.
func NewSealer(secret string) (*Sealer, error) {
	if secret == "" {
		return nil, nil
	}
	if len(secret) < 32 {
		return nil, errors.New("CONNECTOR_SECRET_KEY must be at least 32 characters")
	}
	key := sha256.Sum256([]byte(secret))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain: a random nonce followed by the ciphertext.
func (s *Sealer) Seal(plain string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, []byte(plain), nil), nil
}

// Open decrypts what Seal produced.
func (s *Sealer) Open(sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed credential is too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return "", errors.New("sealed credential does not open with CONNECTOR_SECRET_KEY (was the key changed?)")
	}
	return string(plain), nil
}

var envRef = regexp.MustCompile(`^env:([A-Za-z_][A-Za-z0-9_]*)$`)

// CredentialInput turns what an operator typed into what the store keeps:
// "env:NAME" is kept as a reference; anything else is sealed, which needs
// CONNECTOR_SECRET_KEY. Only a hint is ever shown back.
func (s *Sealer) CredentialInput(input string) (ref string, sealed []byte, hint string, err error) {
	input = strings.TrimSpace(input)
	switch {
	case input == "":
		return "", nil, "", nil
	case strings.HasPrefix(input, "env:"):
		if !envRef.MatchString(input) {
			return "", nil, "", domain.FieldError("credential", "Write an environment reference as env:NAME (letters, digits and _).")
		}
		return input, nil, input, nil
	case s == nil:
		return "", nil, "", domain.FieldError("credential",
			"Set CONNECTOR_SECRET_KEY on the server to store credentials encrypted, or reference an environment variable as env:NAME.")
	}
	sealed, err = s.Seal(input)
	if err != nil {
		return "", nil, "", err
	}
	return "", sealed, Hint(input), nil
}

// Hint is what may be shown of a secret: its last four characters, and
// only when it is long enough for that to give nothing away.
func Hint(secret string) string {
	if len(secret) < 16 {
		return "•••• (stored encrypted)"
	}
	return "••••" + secret[len(secret)-4:]
}

// Credential returns a connector's credential in clear, for the request
// it is about to make: the environment variable it references, or its
// sealed secret opened.
func (s *Sealer) Credential(c store.Connector, lookup func(string) (string, bool)) (string, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if m := envRef.FindStringSubmatch(c.CredentialRef); m != nil {
		v, ok := lookup(m[1])
		if !ok || v == "" {
			return "", errors.New("credential environment variable " + m[1] + " is not set")
		}
		return v, nil
	}
	if len(c.CredentialSealed) > 0 {
		if s == nil {
			return "", errors.New("the credential is sealed but CONNECTOR_SECRET_KEY is not set")
		}
		return s.Open(c.CredentialSealed)
	}
	return "", nil
}
