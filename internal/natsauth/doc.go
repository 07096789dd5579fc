// Package natsauth holds levy's NATS roles: the subjects each kind of
// process may publish and subscribe to, as nats-server permissions
// (Users, for an embedded server) and as a server configuration file
// (RenderConfig, WriteDeployment, for `nats-server -c`). docs/security.md
// explains the model; in short:
//
//   - operator (levyctl): requests on the API subjects, reads job reports;
//   - coordinator: answers joins, reports and API requests (through
//     allow_responses: it may publish a reply only to the inbox of a
//     request it received), sends assignments, commands and adopted
//     checkpoints;
//   - worker: one NATS user per worker ID, publishing only subjects that
//     end in its own ID (reports, heartbeats, ring chunks), so its
//     credentials can speak only as itself;
//   - sampler: one user per sampler ID, reading adopted checkpoints and
//     publishing its own samples reports.
//
// Requesters (operator, worker, sampler) subscribe to _INBOX.> for their
// replies; no role may publish on _INBOX.> at will.
package natsauth
