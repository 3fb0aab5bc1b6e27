// The fleet's transport on NATS JetStream (the C client, libnats).
#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "fleet/transport.h"
#include "util/signals.h"

namespace pickaxe::fleet {

namespace {

std::string describe(natsStatus status, jsErrCode code = static_cast<jsErrCode>(0)) {
  // The client keeps its last error per thread: its text is this status's
  // only when their statuses agree (else it is an older, unrelated one).
  natsStatus last_status = NATS_OK;
  const char* last = nats_GetLastError(&last_status);
  std::string text = last && *last && last_status == status ? last : natsStatus_GetText(status);
  // The client's own place ("(unix/sock.c:58): Timeout") says nothing to users.
  if (text.starts_with('(')) {
    const size_t end = text.find("): ");
    if (end != std::string::npos) text.erase(0, end + 3);
  }
  if (code != 0) text += fmt::format(" (JetStream error {})", static_cast<int>(code));
  return text;
}

bool unavailable(natsStatus status) {
  return status == NATS_CONNECTION_CLOSED || status == NATS_NO_SERVER ||
         status == NATS_STALE_CONNECTION || status == NATS_CONNECTION_DISCONNECTED ||
         status == NATS_NOT_YET_CONNECTED || status == NATS_TIMEOUT ||
         status == NATS_NO_RESPONDERS || status == NATS_IO_ERROR;
}

Status status_of(natsStatus status, std::string& error,
                 jsErrCode code = static_cast<jsErrCode>(0)) {
  if (status == NATS_OK) return Status::Ok;
  error = describe(status, code);
  if (status == NATS_NOT_FOUND) return Status::NotFound;
  if (code == JSStreamWrongLastSequenceErr ||
      error.find("wrong last sequence") != std::string::npos)
    return Status::Conflict;
  // A server catching up (after a pause, or electing a leader) says so: it
  // is waited for, as a server away is.
  if (unavailable(status) || code == JSClusterNotAvailErr ||
      error.find("temporarily unavailable") != std::string::npos)
    return Status::Unavailable;
  return Status::Failed;
}

class NatsReader : public StreamReader {
 public:
  NatsReader(jsCtx* js, natsSubscription* subscription, std::string stream, std::string name)
      : js_(js), subscription_(subscription), stream_(std::move(stream)), name_(std::move(name)) {}
  ~NatsReader() override {
    natsMsgList_Destroy(&batch_);
    if (last_) natsMsg_Destroy(last_);
    // The durable consumer stays on the server: the next owner replaces it.
    natsSubscription_Destroy(subscription_);
  }

  Status fetch(size_t max, std::chrono::milliseconds wait, std::vector<Record>& out,
               std::string& error) override {
    out.clear();
    natsMsgList_Destroy(&batch_);
    batch_ = {};
    natsStatus status;
    if (wait.count() == 0) {
      // Asked only for what the server holds for this reader, which comes at
      // once: the count is the last message's (or, when that said none, the
      // consumer's, one small request). A request for more would wait, and
      // one given up before its answer would stay open on the server, which
      // would go on sending past what was asked.
      if (pending_ == 0) {
        uint64_t pending = 0;
        if (Status asked = this->pending(pending, error); asked != Status::Ok) return asked;
        if (pending == 0) return Status::Ok;
      }
      jsFetchRequest request;
      jsFetchRequest_Init(&request);
      request.Batch = static_cast<int>(std::min<uint64_t>(max, pending_));
      request.Expires = std::chrono::nanoseconds(std::chrono::seconds(2)).count();
      status = natsSubscription_FetchRequest(&batch_, subscription_, &request);
    } else {
      status = natsSubscription_Fetch(&batch_, subscription_, static_cast<int>(max),
                                      static_cast<int64_t>(wait.count()), nullptr);
    }
    if (status == NATS_TIMEOUT || status == NATS_NOT_FOUND) {  // none now
      pending_ = 0;
      return Status::Ok;
    }
    if (status != NATS_OK) return status_of(status, error);
    for (int i = 0; i < batch_.Count; ++i) {
      natsMsg* message = batch_.Msgs[i];
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, message) != NATS_OK) continue;  // not a stream message
      Record record;
      record.sequence = meta->Sequence.Stream;
      pending_ = meta->NumPending;  // what the stream holds past this message, for this reader
      jsMsgMetaData_Destroy(meta);
      record.subject = natsMsg_GetSubject(message);
      record.data = std::string_view(natsMsg_GetData(message),
                                     static_cast<size_t>(natsMsg_GetDataLength(message)));
      out.push_back(record);
    }
    if (batch_.Count > 0) {
      // The last message is kept to acknowledge the batch with (AckAll).
      if (last_) natsMsg_Destroy(last_);
      last_ = batch_.Msgs[batch_.Count - 1];
      batch_.Msgs[batch_.Count - 1] = nullptr;
      last_sequence_ = out.empty() ? 0 : out.back().sequence;
    }
    return Status::Ok;
  }

  Status acknowledge(uint64_t sequence, std::string& error) override {
    if (!last_ || last_sequence_ > sequence) return Status::Ok;
    natsStatus status = natsMsg_Ack(last_, nullptr);
    if (status != NATS_OK) return status_of(status, error);
    natsMsg_Destroy(last_);
    last_ = nullptr;
    return Status::Ok;
  }

  uint64_t last_pending() const override { return pending_; }

  Status pending(uint64_t& messages, std::string& error) override {
    jsConsumerInfo* info = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus status =
        js_GetConsumerInfo(&info, js_, stream_.c_str(), name_.c_str(), nullptr, &code);
    if (status != NATS_OK) return status_of(status, error, code);
    messages = pending_ = info->NumPending;
    jsConsumerInfo_Destroy(info);
    return Status::Ok;
  }

 private:
  jsCtx* js_;
  natsSubscription* subscription_;
  std::string stream_, name_;
  natsMsgList batch_{};
  natsMsg* last_ = nullptr;
  uint64_t last_sequence_ = 0;
  uint64_t pending_ = 0;
};

class NatsBucket : public Bucket {
 public:
  NatsBucket(kvStore* kv, std::chrono::nanoseconds ttl) : kv_(kv), ttl_(ttl) {}
  ~NatsBucket() override { kvStore_Destroy(kv_); }

  Status create(const std::string& key, std::string_view value, uint64_t& revision,
                std::string& error) override {
    return status_of(
        kvStore_Create(&revision, kv_, key.c_str(), value.data(), static_cast<int>(value.size())),
        error);
  }
  Status update(const std::string& key, std::string_view value, uint64_t& revision,
                std::string& error) override {
    uint64_t next = 0;
    Status status = status_of(kvStore_Update(&next, kv_, key.c_str(), value.data(),
                                             static_cast<int>(value.size()), revision),
                              error);
    if (status == Status::Ok) revision = next;
    return status;
  }
  Status put(const std::string& key, std::string_view value, std::string& error) override {
    uint64_t revision = 0;
    return status_of(
        kvStore_Put(&revision, kv_, key.c_str(), value.data(), static_cast<int>(value.size())),
        error);
  }
  Status get(const std::string& key, std::string& value, uint64_t& revision,
             std::string& error) override {
    kvEntry* entry = nullptr;
    natsStatus status = kvStore_Get(&entry, kv_, key.c_str());
    if (status != NATS_OK) return status_of(status, error);
    value.assign(static_cast<const char*>(kvEntry_Value(entry)),
                 static_cast<size_t>(kvEntry_ValueLen(entry)));
    revision = kvEntry_Revision(entry);
    kvEntry_Destroy(entry);
    return Status::Ok;
  }
  Status erase(const std::string& key, std::string& error) override {
    return status_of(kvStore_Delete(kv_, key.c_str()), error);
  }
  Status keys(std::vector<std::string>& out, std::string& error) override {
    out.clear();
    kvKeysList list{};
    natsStatus status = kvStore_Keys(&list, kv_, nullptr);
    if (status == NATS_NOT_FOUND) return Status::Ok;  // an empty bucket
    if (status != NATS_OK) return status_of(status, error);
    for (int i = 0; i < list.Count; ++i) out.emplace_back(list.Keys[i]);
    kvKeysList_Destroy(&list);
    return Status::Ok;
  }
  std::chrono::nanoseconds ttl() const override { return ttl_; }

 private:
  kvStore* kv_;
  std::chrono::nanoseconds ttl_;
};

// A publish to send again: its acknowledgement was an error, or never came.
struct Unsent {
  std::string subject, data, id;
  Headers headers;
};

class NatsTransport : public Transport {
 public:
  ~NatsTransport() override {
    closing_ = true;  // the disconnection that follows is ours
    if (connection_) {
      // The client calls back from its own thread: those calls are over
      // once it says the connection is closed.
      natsConnection_Close(connection_);
      std::unique_lock lock(mutex_);
      closed_signal_.wait_for(lock, std::chrono::seconds(5), [&] { return closed_; });
    }
    if (js_) jsCtx_Destroy(js_);
    if (connection_) natsConnection_Destroy(connection_);
    if (options_) natsOptions_Destroy(options_);
  }

  bool connect(const ConnectOptions& options, std::string& error) {
    on_event_ = options.on_connection_event;
    replicas_ = options.replicas;
    natsStatus status = natsOptions_Create(&options_);
    if (status == NATS_OK) status = natsOptions_SetURL(options_, options.url.c_str());
    if (status == NATS_OK) status = natsOptions_SetName(options_, options.name.c_str());
    if (status == NATS_OK) status = natsOptions_SetMaxReconnect(options_, -1);
    // Reconnection with backoff: 250 ms doubling to 8 s (with jitter).
    if (status == NATS_OK)
      status = natsOptions_SetCustomReconnectDelay(options_, &NatsTransport::reconnect_delay, this);
    if (status == NATS_OK) status = natsOptions_SetReconnectBufSize(options_, 64 << 20);
    if (status == NATS_OK)
      status = natsOptions_SetDisconnectedCB(options_, &NatsTransport::on_disconnected, this);
    if (status == NATS_OK)
      status = natsOptions_SetReconnectedCB(options_, &NatsTransport::on_reconnected, this);
    if (status == NATS_OK)
      status = natsOptions_SetClosedCB(options_, &NatsTransport::on_closed, this);
    if (status != NATS_OK) {
      error = fmt::format("--nats {}: {}", redacted(options.url), describe(status));
      return false;
    }
    if (status == NATS_OK && !options.credentials.empty())
      status =
          natsOptions_SetUserCredentialsFromFiles(options_, options.credentials.c_str(), nullptr);
    if (status == NATS_OK && !options.ca.empty()) {
      status = natsOptions_SetSecure(options_, true);
      if (status == NATS_OK)
        status = natsOptions_LoadCATrustedCertificates(options_, options.ca.c_str());
    }
    if (status != NATS_OK) {
      error = fmt::format("--nats {}: {}", redacted(options.url), describe(status));
      return false;
    }
    // The first connection is made here, not by the client in the
    // background: a server that accepts but does not answer in time would
    // leave that connection closed for good.
    int attempt = 0;
    for (; (status = natsConnection_Connect(&connection_, options_)) != NATS_OK; ++attempt) {
      if (!options.wait_for_server || !unavailable(status) || stop_requested()) {
        error = fmt::format("--nats {}: {}", redacted(options.url), describe(status));
        return false;
      }
      if (attempt == 0 && on_event_)
        on_event_(fmt::format("{} is not reachable yet ({}); retrying", redacted(options.url),
                              describe(status)));
      sleep_unless_stopped(std::chrono::milliseconds(reconnect_delay(nullptr, attempt, nullptr)));
    }
    if (attempt > 0 && on_event_) on_event_("connected to NATS");
    jsOptions js_options;
    jsOptions_Init(&js_options);
    js_options.Wait = 5000;
    js_options.PublishAsync.MaxPending = static_cast<int64_t>(options.in_flight);
    remembered_ids_ = 4 * std::max<size_t>(options.in_flight, 1);
    js_options.PublishAsync.ErrHandler = &NatsTransport::on_publish_error;
    js_options.PublishAsync.ErrHandlerClosure = this;
    js_options.PublishAsync.StallWait = 1000;
    status = natsConnection_JetStream(&js_, connection_, &js_options);
    if (status != NATS_OK) {
      error = fmt::format("--nats {}: {}", redacted(options.url), describe(status));
      return false;
    }
    return true;
  }

  Status ensure_stream(const StreamSpec& spec, std::string& note, std::string& error) override {
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    std::vector<const char*> subjects;
    for (const std::string& subject : spec.subjects) subjects.push_back(subject.c_str());
    config.Name = spec.name.c_str();
    config.Subjects = subjects.data();
    config.SubjectsLen = static_cast<int>(subjects.size());
    config.Storage = js_FileStorage;
    config.Replicas = replicas_;
    config.Duplicates = spec.duplicate_window.count();
    config.MaxAge = spec.max_age.count();
    config.MaxBytes = spec.max_bytes;
    jsStreamInfo* info = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus status = js_GetStreamInfo(&info, js_, spec.name.c_str(), nullptr, &code);
    if (status == NATS_OK) {
      // Kept as its operator configured it; said where that matters.
      const jsStreamConfig* found = info->Config;
      if (found && found->Duplicates < spec.duplicate_window.count())
        note = fmt::format(
            "the stream {} drops duplicates within {} s, less than the {} s pickaxe "
            "counts on (messages sent again may come twice)",
            spec.name, found->Duplicates / 1'000'000'000,
            spec.duplicate_window.count() / 1'000'000'000);
      bool subjects = found != nullptr;
      for (const std::string& subject : spec.subjects) {
        bool there = false;
        for (int i = 0; found && i < found->SubjectsLen; ++i)
          there = there || subject == found->Subjects[i];
        subjects = subjects && there;
      }
      if (!subjects)
        note = fmt::format("the stream {} does not take {}", spec.name, spec.subjects.front());
      jsStreamInfo_Destroy(info);
      return Status::Ok;
    }
    if (status != NATS_NOT_FOUND && code != JSStreamNotFoundErr)
      return status_of(status, error, code);
    status = js_AddStream(&info, js_, &config, nullptr, &code);
    if (status == NATS_OK) jsStreamInfo_Destroy(info);
    // Another process created it meanwhile: as good.
    if (status != NATS_OK && code == JSStreamNameExistErr) return Status::Ok;
    return status_of(status, error, code);
  }

  Status publish(std::string_view subject, std::string_view data, std::string_view id,
                 const Headers& headers, std::string& error) override {
    if (Status status = keep_order(error); status != Status::Ok) return status;
    if (Status status = send_again(error); status != Status::Ok) return status;
    remember_order(id);
    return send(std::string(subject), data, std::string(id), headers, error);
  }

  Status flush(std::chrono::milliseconds wait, std::string& error) override {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (true) {
      if (Status status = send_again(error); status != Status::Ok && status != Status::Unavailable)
        return status;
      jsPubOptions options;
      jsPubOptions_Init(&options);
      options.MaxWait = 2000;
      natsStatus status = js_PublishAsyncComplete(js_, &options);
      {
        std::lock_guard lock(mutex_);
        if (status == NATS_OK && unsent_.empty()) return Status::Ok;
      }
      if (status == NATS_TIMEOUT) {
        // Publishes the server never acknowledged (it was down): sent again,
        // their ids letting it drop those it had stored.
        natsMsgList pending{};
        if (js_PublishAsyncGetPendingList(&pending, js_) == NATS_OK) {
          std::lock_guard lock(mutex_);
          for (int i = 0; i < pending.Count; ++i) unsent_.push_back(unsent_of(pending.Msgs[i]));
          natsMsgList_Destroy(&pending);
        }
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        error = "the server did not acknowledge every publish in time";
        return Status::Unavailable;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  std::unique_ptr<StreamReader> open_reader(const std::string& stream, const std::string& subject,
                                            const std::string& name, uint64_t from,
                                            int64_t from_time, std::string& error) override {
    jsErrCode code = static_cast<jsErrCode>(0);
    js_DeleteConsumer(js_, stream.c_str(), name.c_str(), nullptr, &code);
    jsConsumerConfig config;
    jsConsumerConfig_Init(&config);
    config.Durable = name.c_str();
    config.FilterSubject = subject.c_str();
    config.AckPolicy = js_AckAll;
    if (from_time > 0) {
      config.DeliverPolicy = js_DeliverByStartTime;
      config.OptStartTime = from_time;
    } else {
      config.DeliverPolicy = js_DeliverByStartSequence;
      config.OptStartSeq = std::max<uint64_t>(from, 1);
    }
    config.InactiveThreshold = std::chrono::nanoseconds(std::chrono::hours(1)).count();
    // Acknowledged at each checkpoint: the wait covers several, and the
    // window of unacknowledged messages is wide enough for a fast reader.
    config.AckWait = std::chrono::nanoseconds(std::chrono::minutes(5)).count();
    config.MaxAckPending = 1 << 20;
    config.MaxRequestBatch = 0;
    jsConsumerInfo* info = nullptr;
    code = static_cast<jsErrCode>(0);
    natsStatus status = js_AddConsumer(&info, js_, stream.c_str(), &config, nullptr, &code);
    if (status != NATS_OK) {
      error = fmt::format("cannot create the consumer {} of {}: {}", name, stream,
                          describe(status, code));
      return nullptr;
    }
    jsConsumerInfo_Destroy(info);
    jsSubOptions sub_options;
    jsSubOptions_Init(&sub_options);
    sub_options.Stream = stream.c_str();
    sub_options.Consumer = name.c_str();
    sub_options.ManualAck = true;
    natsSubscription* subscription = nullptr;
    status = js_PullSubscribe(&subscription, js_, subject.c_str(), name.c_str(), nullptr,
                              &sub_options, &code);
    if (status != NATS_OK) {
      error = fmt::format("cannot read the consumer {} of {}: {}", name, stream,
                          describe(status, code));
      return nullptr;
    }
    return std::make_unique<NatsReader>(js_, subscription, stream, name);
  }

  Status remove_readers(const std::string& stream, const std::string& prefix,
                        std::string& error) override {
    jsConsumerNamesList* names = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus status = js_ConsumerNames(&names, js_, stream.c_str(), nullptr, &code);
    if (status == NATS_NOT_FOUND) return Status::Ok;
    if (status != NATS_OK) return status_of(status, error, code);
    Status result = Status::Ok;
    for (int i = 0; i < names->Count; ++i) {
      std::string_view name = names->List[i];
      if (!name.starts_with(prefix)) continue;
      status = js_DeleteConsumer(js_, stream.c_str(), names->List[i], nullptr, &code);
      if (status != NATS_OK && status != NATS_NOT_FOUND) result = status_of(status, error, code);
    }
    jsConsumerNamesList_Destroy(names);
    return result;
  }

  Status open_bucket(const std::string& name, std::chrono::nanoseconds ttl,
                     std::unique_ptr<Bucket>& bucket, std::string& error) override {
    kvStore* kv = nullptr;
    natsStatus status = js_KeyValue(&kv, js_, name.c_str());
    if (status != NATS_OK && !unavailable(status)) {  // no such bucket yet
      kvConfig config;
      kvConfig_Init(&config);
      config.Bucket = name.c_str();
      config.History = 1;
      config.TTL = ttl.count();  // nanoseconds
      config.StorageType = js_FileStorage;
      config.Replicas = replicas_;
      status = js_CreateKeyValue(&kv, js_, &config);
      // Created by another process meanwhile.
      if (status != NATS_OK && !unavailable(status)) status = js_KeyValue(&kv, js_, name.c_str());
    }
    if (status != NATS_OK) {
      Status result = status_of(status, error);
      error = fmt::format("cannot open the bucket {}: {}", name, error);
      return result == Status::Unavailable ? result : Status::Failed;
    }
    // The bucket's own TTL counts (another process may have created it).
    kvStatus* kv_status = nullptr;
    if (kvStore_Status(&kv_status, kv) == NATS_OK) {
      ttl = std::chrono::nanoseconds(kvStatus_TTL(kv_status));
      kvStatus_Destroy(kv_status);
    }
    bucket = std::make_unique<NatsBucket>(kv, ttl);
    return Status::Ok;
  }

  std::vector<std::string> take_refused() override {
    std::lock_guard lock(mutex_);
    return std::exchange(refused_, {});
  }

  Status last_sequence(const std::string& stream, uint64_t& sequence, std::string& error) override {
    jsStreamInfo* info = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus status = js_GetStreamInfo(&info, js_, stream.c_str(), nullptr, &code);
    if (status != NATS_OK) return status_of(status, error, code);
    sequence = info->State.LastSeq;
    jsStreamInfo_Destroy(info);
    return Status::Ok;
  }

  bool connected() const override {
    return natsConnection_Status(connection_) == NATS_CONN_STATUS_CONNECTED;
  }
  std::chrono::steady_clock::time_point reconnected_at() const override {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(reconnected_at_.load()));
  }
  size_t max_message_bytes() const override {
    int64_t payload = natsConnection_GetMaxPayload(connection_);
    return payload > 0 ? static_cast<size_t>(payload) : size_t{1} << 20;
  }

 private:
  // A stream is read in order, so what was published before the connection
  // was lost is stored (or sent again, in the order it was published)
  // before anything newer: nothing is published while the connection is
  // down, and after it comes back, not until every earlier publish is
  // acknowledged. Unavailable meanwhile (the callers wait and try again).
  Status keep_order(std::string& error) {
    if (!connected()) {
      error = "the connection to NATS is down";
      return Status::Unavailable;
    }
    const auto back = reconnected_at_.load();
    if (back == ordered_since_) return Status::Ok;
    if (Status status = flush(std::chrono::milliseconds(2000), error); status != Status::Ok)
      return status;
    ordered_since_ = back;
    return Status::Ok;
  }

  Status send(const std::string& subject, std::string_view data, const std::string& id,
              const Headers& headers, std::string& error) {
    natsMsg* message = nullptr;
    natsStatus status = natsMsg_Create(&message, subject.c_str(), nullptr, data.data(),
                                       static_cast<int>(data.size()));
    if (status == NATS_OK && !id.empty())
      status = natsMsgHeader_Set(message, "Nats-Msg-Id", id.c_str());
    for (const auto& [key, value] : headers)
      if (status == NATS_OK) status = natsMsgHeader_Set(message, key.c_str(), value.c_str());
    // Past the in-flight bound the call waits (StallWait) and times out:
    // waited again, as long as acknowledgements come.
    // An acknowledgement that does not come in time (the server went away)
    // is an error the handler keeps the message for, to send again.
    jsPubOptions options;
    jsPubOptions_Init(&options);
    options.MaxWait = 10000;
    for (int attempt = 0; status == NATS_OK || status == NATS_TIMEOUT; ++attempt) {
      status = js_PublishMsgAsync(js_, &message, &options);
      if (status != NATS_TIMEOUT || attempt >= 30) break;
    }
    if (message) natsMsg_Destroy(message);
    return status_of(status, error);
  }

  // Sends again what failed; kept for later while the server is away.
  Status send_again(std::string& error) {
    std::vector<Unsent> unsent;
    {
      std::lock_guard lock(mutex_);
      if (unsent_.empty()) return Status::Ok;
      unsent.swap(unsent_);
    }
    // In the order they were first published (the client lists them in any
    // order); those of no remembered order last, as listed.
    if (unsent.size() > 1) {
      std::unordered_map<size_t, size_t> position;
      for (size_t i = 0; i < sent_ids_.size(); ++i) position[sent_ids_[i]] = i;
      auto order_of = [&](const Unsent& message) {
        auto found = position.find(std::hash<std::string>{}(message.id));
        return found == position.end() ? SIZE_MAX : found->second;
      };
      std::stable_sort(unsent.begin(), unsent.end(),
                       [&](const Unsent& a, const Unsent& b) { return order_of(a) < order_of(b); });
    }
    for (size_t i = 0; i < unsent.size(); ++i) {
      Status status =
          send(unsent[i].subject, unsent[i].data, unsent[i].id, unsent[i].headers, error);
      if (status == Status::Ok) continue;
      std::lock_guard lock(mutex_);
      unsent_.insert(unsent_.end(), std::make_move_iterator(unsent.begin() + i),
                     std::make_move_iterator(unsent.end()));
      return status;
    }
    return Status::Ok;
  }

  static Unsent unsent_of(natsMsg* message) {
    Unsent unsent;
    unsent.subject = natsMsg_GetSubject(message);
    unsent.data.assign(natsMsg_GetData(message),
                       static_cast<size_t>(natsMsg_GetDataLength(message)));
    const char** keys = nullptr;
    int count = 0;
    if (natsMsgHeader_Keys(message, &keys, &count) == NATS_OK) {
      for (int i = 0; i < count; ++i) {
        const char* value = nullptr;
        if (natsMsgHeader_Get(message, keys[i], &value) != NATS_OK) continue;
        if (std::string_view(keys[i]) == "Nats-Msg-Id")
          unsent.id = value;
        else
          unsent.headers.emplace_back(keys[i], value);
      }
      std::free(static_cast<void*>(keys));
    }
    return unsent;
  }

  static void on_publish_error(jsCtx*, jsPubAckErr* failure, void* closure) {
    auto* self = static_cast<NatsTransport*>(closure);
    Unsent unsent = unsent_of(failure->Msg);
    std::lock_guard lock(self->mutex_);
    // The server away, or no acknowledgement in time: sent again. Anything
    // else the server said is final.
    if ((unavailable(failure->Err) && failure->ErrCode == 0) ||
        failure->ErrCode == JSClusterNotAvailErr) {
      self->unsent_.push_back(std::move(unsent));
      return;
    }
    self->refused_.push_back(
        fmt::format("{} (message {}): {}", unsent.subject, unsent.id,
                    failure->ErrText ? failure->ErrText : natsStatus_GetText(failure->Err)));
  }
  static int64_t reconnect_delay(natsConnection*, int attempts, void*) {
    const int64_t delay = int64_t{250} << std::min(attempts, 5);
    static_assert((int64_t{250} << 5) + 100 == kLongestReconnectDelay.count());
    return delay + static_cast<int64_t>(std::rand() % 100);
  }
  static void on_disconnected(natsConnection*, void* closure) {
    auto* self = static_cast<NatsTransport*>(closure);
    if (self->on_event_ && !self->closing_) self->on_event_("disconnected from NATS; reconnecting");
  }
  static void on_closed(natsConnection*, void* closure) {
    auto* self = static_cast<NatsTransport*>(closure);
    std::lock_guard lock(self->mutex_);
    self->closed_ = true;
    self->closed_signal_.notify_all();
  }
  static void on_reconnected(natsConnection*, void* closure) {
    auto* self = static_cast<NatsTransport*>(closure);
    self->reconnected_at_ = std::chrono::steady_clock::now().time_since_epoch().count();
    if (self->on_event_) self->on_event_("reconnected to NATS");
  }

  natsOptions* options_ = nullptr;
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
  std::function<void(const std::string&)> on_event_;
  std::mutex mutex_;
  std::vector<Unsent> unsent_;
  // The last publishes' message ids (hashed), in the order they were
  // published: at most what can be pending, a few times over (publishing
  // waits past the in-flight bound). Read only to send again in order.
  void remember_order(std::string_view id) {
    sent_ids_.push_back(std::hash<std::string_view>{}(id));
    if (sent_ids_.size() > remembered_ids_) sent_ids_.pop_front();
  }
  std::deque<size_t> sent_ids_;
  size_t remembered_ids_ = 4 * 4096;
  std::chrono::steady_clock::rep ordered_since_ = 0;
  std::atomic<bool> closing_ = false;
  std::atomic<std::chrono::steady_clock::rep> reconnected_at_ = 0;
  bool closed_ = false;
  std::condition_variable closed_signal_;
  std::vector<std::string> refused_;
  int replicas_ = 1;
};

}  // namespace

// A URL as said in messages: without a password or token (user:secret@).
std::string redacted(std::string_view urls) {
  std::string out(urls);
  for (size_t at = out.find('@'); at != std::string::npos; at = out.find('@', at + 1)) {
    const size_t scheme = out.rfind("://", at);
    const size_t from = scheme == std::string::npos ? 0 : scheme + 3;
    out.replace(from, at - from, "***");
    at = from + 3;
  }
  return out;
}

std::unique_ptr<Transport> connect_nats(const ConnectOptions& options, std::string& error) {
  auto transport = std::make_unique<NatsTransport>();
  if (!transport->connect(options, error)) return nullptr;
  return transport;
}

}  // namespace pickaxe::fleet
