// The distributed log the fleet runs on, behind one small interface:
// streams to publish to and read from, and a key-value bucket for leases
// and checkpoints. NATS JetStream implements it (nats_transport.cpp); another
// log (Kafka: topics, consumer offsets, a compacted topic for the bucket)
// would be one more file.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pickaxe::fleet {

// Error codes for the calls made per message or per heartbeat.
enum class Status {
  Ok,
  NotFound,     // no such key, stream or consumer
  Conflict,     // the key exists, or changed since the revision given
  Unavailable,  // the server cannot be reached now: retried later
  Failed,       // anything else (the error says what)
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// A message read from a stream. Its data lives until the next fetch.
struct Record {
  uint64_t sequence = 0;  // in its stream
  std::string_view subject;
  std::string_view data;
  Headers headers;
};

struct StreamSpec {
  std::string name;
  std::vector<std::string> subjects;
  std::chrono::nanoseconds duplicate_window{std::chrono::minutes(2)};
  std::chrono::nanoseconds max_age{0};  // 0: kept until max_bytes
  int64_t max_bytes = -1;               // -1: unlimited
};

// A durable reader of one stream's subjects from a sequence on.
class StreamReader {
 public:
  virtual ~StreamReader() = default;
  // Up to `max` records, waiting at most `wait` for the first; an empty
  // batch when there are none.
  virtual Status fetch(size_t max, std::chrono::milliseconds wait, std::vector<Record>& out,
                       std::string& error) = 0;
  // Everything read up to `sequence` is done with (acknowledged).
  virtual Status acknowledge(uint64_t sequence, std::string& error) = 0;
  // Messages the stream holds past what was read (asks the server).
  virtual Status pending(uint64_t& messages, std::string& error) = 0;
  // The same, as the last fetch saw it (no request).
  virtual uint64_t last_pending() const = 0;
};

class Bucket {
 public:
  virtual ~Bucket() = default;
  // Creates the key; Conflict when it holds a value.
  virtual Status create(const std::string& key, std::string_view value, uint64_t& revision,
                        std::string& error) = 0;
  // Replaces the value at `revision` (then the new one); Conflict when it changed.
  virtual Status update(const std::string& key, std::string_view value, uint64_t& revision,
                        std::string& error) = 0;
  virtual Status put(const std::string& key, std::string_view value, std::string& error) = 0;
  virtual Status get(const std::string& key, std::string& value, uint64_t& revision,
                     std::string& error) = 0;
  virtual Status erase(const std::string& key, std::string& error) = 0;
  virtual Status keys(std::vector<std::string>& out, std::string& error) = 0;
  virtual std::chrono::nanoseconds ttl() const = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Creates the stream when absent. One there already is kept as it is;
  // `note` says where it differs from `spec` in a way that matters (its
  // subjects, a shorter duplicate window).
  virtual Status ensure_stream(const StreamSpec& spec, std::string& note, std::string& error) = 0;
  // The stream's last sequence (0 when it is empty).
  virtual Status last_sequence(const std::string& stream, uint64_t& sequence,
                               std::string& error) = 0;
  // Publishes without waiting for the acknowledgement; at most `in_flight`
  // (see connect) wait at once, past which publish waits. A retried publish
  // of the same id is dropped by the log within its duplicate window.
  virtual Status publish(std::string_view subject, std::string_view data, std::string_view id,
                         const Headers& headers, std::string& error) = 0;
  // Waits until every publish is acknowledged, publishing again those that
  // failed for a while (the server away, no acknowledgement in time);
  // Unavailable when the server does not answer within `wait`.
  virtual Status flush(std::chrono::milliseconds wait, std::string& error) = 0;
  // Publishes the server refused for good (too large for it, a stream's
  // limit), since the last call: each described with its subject and id.
  virtual std::vector<std::string> take_refused() = 0;
  // A durable reader named `name` of `subject` in `stream`, from sequence
  // `from` on, or from the messages stored at `from_time` (nanoseconds since
  // the epoch) on when it is not 0. A reader of that name is replaced; one
  // unused for an hour is removed by the log.
  virtual std::unique_ptr<StreamReader> open_reader(const std::string& stream,
                                                    const std::string& subject,
                                                    const std::string& name, uint64_t from,
                                                    int64_t from_time, std::string& error) = 0;
  // Removes the durable readers of `stream` whose names start with `prefix`.
  virtual Status remove_readers(const std::string& stream, const std::string& prefix,
                                std::string& error) = 0;
  // The bucket, created with `ttl` (0: values kept) when it does not exist;
  // Unavailable when the server does not answer in time.
  virtual Status open_bucket(const std::string& name, std::chrono::nanoseconds ttl,
                             std::unique_ptr<Bucket>& bucket, std::string& error) = 0;
  // The largest message the server takes.
  virtual size_t max_message_bytes() const = 0;
  // Whether the connection is up now (it is re-established in the
  // background), and when it last came back (the epoch: never lost).
  virtual bool connected() const = 0;
  virtual std::chrono::steady_clock::time_point reconnected_at() const = 0;
};

// The longest wait between two attempts of pickaxe's clients to reconnect
// (250 ms doubling to 8 s, plus up to 100 ms of jitter): after a server
// comes back, every `ship` is connected again within it.
inline constexpr std::chrono::milliseconds kLongestReconnectDelay{8100};

struct ConnectOptions {
  std::string url = "nats://127.0.0.1:4222";
  std::string name = "pickaxe";  // the client's name, in the server's monitoring
  size_t in_flight = 4096;       // asynchronous publishes awaiting acknowledgement
  int replicas = 1;              // of the streams and buckets it creates (3 on a 3-node cluster)
  std::string credentials;       // a NATS credentials file (user JWT and NKey seed); empty: none
  std::string ca;                // trusted CA certificates (PEM): TLS, the server's name checked
  // Waits (until a stop signal) for a server that is not up or does not
  // answer yet; false: one attempt, an error when it fails.
  bool wait_for_server = true;
  // Called (from the client's thread) on disconnection and reconnection.
  std::function<void(const std::string& message)> on_connection_event;
};
// URLs as said in messages: passwords and tokens (user:secret@) starred.
std::string redacted(std::string_view urls);

// Connects to NATS, waiting for the server as `wait_for_server` says; once
// connected, a lost connection is re-established in the background. Null,
// with why, when the URL or credentials cannot be used, or when stopped.
std::unique_ptr<Transport> connect_nats(const ConnectOptions& options, std::string& error);

}  // namespace pickaxe::fleet
