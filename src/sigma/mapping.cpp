#include "sigma/mapping.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "event/field_types.h"
#include "util/strings.h"

namespace pickaxe::sigma {

namespace {

// The built-in table. Field names follow Sigma's taxonomy on the left and
// the ECS fields of Elastic Defend, Auditbeat/auditd_manager, Sysmon for
// Linux, the AWS and the Zeek integrations on the right.
constexpr std::string_view kBuiltin =
    R"(# pickaxe's built-in Sigma mapping (pickaxe convert --print-mapping).
# Entries are tried in order; a rule takes the most specific one whose
# product, category and service all agree with its logsource.
logsources:
  - name: linux-process-creation
    product: linux
    category: process_creation
    eql_category: process
    conditions: 'event.type == "start" and (host.os.type == null or host.os.type == "linux")'
    keywords: process.command_line
    fields: &process_fields
      Image: process.executable
      CommandLine: process.command_line
      CurrentDirectory: process.working_directory
      ProcessId: process.pid
      ProcessGuid: process.entity_id
      User: user.name
      ParentImage: process.parent.executable
      ParentCommandLine: process.parent.command_line
      ParentProcessId: process.parent.pid
      ParentProcessGuid: process.parent.entity_id
      ParentUser: process.parent.user.name
      OriginalFileName: process.pe.original_file_name
      Description: process.pe.description
      Product: process.pe.product
      Company: process.pe.company
      md5: process.hash.md5
      sha1: process.hash.sha1
      sha256: process.hash.sha256
  - name: linux-network-connection
    product: linux
    category: network_connection
    eql_category: network
    conditions: 'event.type in ("start", "connection") and (host.os.type == null or host.os.type == "linux")'
    fields: &network_fields
      Image: process.executable
      ProcessId: process.pid
      User: user.name
      DestinationIp: destination.ip
      DestinationPort: destination.port
      DestinationHostname: destination.domain
      SourceIp: source.ip
      SourcePort: source.port
      SourceHostname: source.domain
      Protocol: network.transport
      Initiated:
        field: network.direction
        values:
          "true": [egress, outbound]
          "false": [ingress, inbound]
  - name: linux-file-event
    product: linux
    category: file_event
    eql_category: file
    conditions: 'event.type in ("creation", "change") and (host.os.type == null or host.os.type == "linux")'
    fields: &file_fields
      Image: process.executable
      ProcessId: process.pid
      User: user.name
      TargetFilename: file.path
  # The same categories from any product (rules written for Windows or
  # macOS, and what pickaxe convert --to sigma writes).
  - name: process-creation
    category: process_creation
    eql_category: process
    conditions: 'event.type == "start"'
    keywords: process.command_line
    fields: *process_fields
  - name: network-connection
    category: network_connection
    eql_category: network
    conditions: 'event.type in ("start", "connection")'
    fields: *network_fields
  - name: file-event
    category: file_event
    eql_category: file
    conditions: 'event.type in ("creation", "change")'
    fields: *file_fields
  # ECS documents as they are: field names are ECS names, for rules that
  # no Sigma logsource describes (pickaxe convert --to sigma writes these).
  - name: ecs
    product: ecs
    eql_category: any
  - name: dns
    category: dns
    eql_category: network
    conditions: 'dns.question.name != null'
    keywords: dns.question.name
    fields:
      Image: process.executable
      query: dns.question.name
      QueryName: dns.question.name
      answer: dns.answers.data
      QueryResults: dns.answers.data
      record_type: dns.question.type
      QueryStatus: dns.response_code
      src_ip: source.ip
      dst_ip: destination.ip
  - name: zeek-dns
    product: zeek
    service: dns
    eql_category: network
    conditions: 'event.dataset == "zeek.dns"'
    unmapped_prefix: zeek.dns.
    fields:
      query: dns.question.name
      qtype_name: dns.question.type
      qclass_name: dns.question.class
      answers: dns.answers.data
      rcode_name: dns.response_code
      trans_id: dns.id
      uid: zeek.session_id
      id.orig_h: source.ip
      id.orig_p: source.port
      id.resp_h: destination.ip
      id.resp_p: destination.port
      proto: network.transport
  - name: aws-cloudtrail
    product: aws
    service: cloudtrail
    eql_category: any
    conditions: 'event.dataset == "aws.cloudtrail"'
    unmapped_prefix: aws.cloudtrail.
    fields:
      eventSource: event.provider
      eventName: event.action
      eventType: aws.cloudtrail.event_type
      eventCategory: aws.cloudtrail.event_category
      awsRegion: cloud.region
      recipientAccountId: cloud.account.id
      sourceIPAddress: source.address
      userAgent: user_agent.original
      errorCode: aws.cloudtrail.error_code
      errorMessage: aws.cloudtrail.error_message
      readOnly: aws.cloudtrail.read_only
      userIdentity.type: aws.cloudtrail.user_identity.type
      userIdentity.arn: aws.cloudtrail.user_identity.arn
      userIdentity.accountId: cloud.account.id
      userIdentity.accessKeyId: aws.cloudtrail.user_identity.access_key_id
      userIdentity.userName: user.name
      userIdentity.invokedBy: aws.cloudtrail.user_identity.invoked_by
      userIdentity.principalId: user.id
      userIdentity.sessionContext.sessionIssuer.type: aws.cloudtrail.user_identity.session_context.session_issuer.type
      userIdentity.sessionContext.sessionIssuer.arn: aws.cloudtrail.user_identity.session_context.session_issuer.arn
      userIdentity.sessionContext.sessionIssuer.userName: aws.cloudtrail.user_identity.session_context.session_issuer.user_name
      userIdentity.sessionContext.attributes.mfaAuthenticated: aws.cloudtrail.user_identity.session_context.mfa_authenticated
      additionalEventData.MFAUsed: aws.cloudtrail.additional_eventdata.mfa_used
  - name: linux-auditd
    product: linux
    service: auditd
    eql_category: any
    conditions: 'event.module == "auditd"'
    keywords: message
    unmapped_prefix: auditd.data.
    fields:
      # EXECVE arguments: Elastic keeps them as process.args, positions not kept.
      a0: process.args
      a1: process.args
      a2: process.args
      a3: process.args
      a4: process.args
      a5: process.args
      a6: process.args
      a7: process.args
      a8: process.args
      a9: process.args
      exe: process.executable
      comm: process.name
      pid: process.pid
      ppid: process.parent.pid
      uid: user.id
      auid: user.audit.id
      key: tags
      cwd: process.working_directory
      name: file.path
      SYSCALL: auditd.data.syscall
      syscall: auditd.data.syscall
      type: auditd.message_type
)";

std::string scalar(const YAML::Node& node) {
  return node && node.IsScalar() ? node.Scalar() : std::string{};
}

}  // namespace

std::string_view Mapping::builtin_yaml() {
  return kBuiltin;
}

Mapping::Mapping() {
  Diagnostics diagnostics;
  auto source = std::make_shared<SourceFile>("<built-in sigma mapping>", std::string(kBuiltin));
  add_yaml(source, diagnostics, false);
}

bool Mapping::add_file(const std::shared_ptr<const SourceFile>& source, Diagnostics& diagnostics) {
  return add_yaml(source, diagnostics, true);
}

bool Mapping::add_yaml(const std::shared_ptr<const SourceFile>& source, Diagnostics& diagnostics,
                       bool in_front) {
  auto span = [&](const YAML::Node& node) -> Span {
    const YAML::Mark mark = node.Mark();
    if (mark.pos < 0) return {0, 0};
    uint32_t at = static_cast<uint32_t>(std::min<size_t>(mark.pos, source->text().size()));
    return {at, at};
  };
  YAML::Node document;
  try {
    document = YAML::Load(source->text());
  } catch (const YAML::Exception& error) {
    uint32_t at = error.mark.pos < 0 ? 0 : static_cast<uint32_t>(error.mark.pos);
    diagnostics.error("yaml-syntax", {at, at}, fmt::format("invalid YAML: {}", error.msg));
    return false;
  }
  const YAML::Node list = document["logsources"];
  if (!list || !list.IsSequence()) {
    diagnostics.error("sigma-mapping", {0, 0}, "a Sigma mapping file needs a `logsources:` list",
                      "see `pickaxe convert --print-mapping` for the shape");
    return false;
  }
  std::vector<LogsourceMapping> added;
  for (const YAML::Node& node : list) {
    if (!node.IsMap()) {
      diagnostics.error("sigma-mapping", span(node), "each logsource entry must be a map");
      continue;
    }
    LogsourceMapping entry;
    entry.name = scalar(node["name"]);
    entry.logsource.product = to_lower(scalar(node["product"]));
    entry.logsource.category = to_lower(scalar(node["category"]));
    entry.logsource.service = to_lower(scalar(node["service"]));
    entry.category = scalar(node["eql_category"]);
    entry.conditions = scalar(node["conditions"]);
    if (node["keywords"]) entry.keywords_field = scalar(node["keywords"]);
    entry.unmapped_prefix = scalar(node["unmapped_prefix"]);
    if (entry.name.empty())
      entry.name = fmt::format("{}/{}/{}", entry.logsource.product, entry.logsource.category,
                               entry.logsource.service);
    if (entry.logsource.product.empty() && entry.logsource.category.empty() &&
        entry.logsource.service.empty()) {
      diagnostics.error(
          "sigma-mapping", span(node),
          fmt::format("entry `{}` names no product, category or service", entry.name));
      continue;
    }
    if (const YAML::Node fields = node["fields"]; fields && fields.IsMap()) {
      for (const auto& field : fields) {
        FieldMapping mapping;
        if (field.second.IsScalar()) {
          mapping.field = field.second.Scalar();
        } else if (field.second.IsMap()) {
          mapping.field = scalar(field.second["field"]);
          if (const YAML::Node values = field.second["values"]; values && values.IsMap()) {
            for (const auto& value : values) {
              std::vector<std::string>& to = mapping.values[to_lower(value.first.Scalar())];
              if (value.second.IsSequence())
                for (const YAML::Node& v : value.second) to.push_back(scalar(v));
              else
                to.push_back(scalar(value.second));
            }
          }
        }
        if (mapping.field.empty()) {
          diagnostics.error("sigma-mapping", span(field.first),
                            fmt::format("field `{}` maps to nothing", field.first.Scalar()),
                            "write `Field: ecs.field` or `Field: {field: ecs.field, values: ...}`");
          continue;
        }
        entry.fields[field.first.Scalar()] = std::move(mapping);
      }
    }
    added.push_back(std::move(entry));
  }
  entries_.insert(in_front ? entries_.begin() : entries_.end(), added.begin(), added.end());
  return !diagnostics.has_errors();
}

const LogsourceMapping* Mapping::find(const Logsource& logsource) const {
  const LogsourceMapping* best = nullptr;
  int best_score = -1;
  for (const LogsourceMapping& entry : entries_) {
    auto agrees = [](const std::string& want, const std::string& have) {
      return want.empty() || want == have;
    };
    const Logsource& want = entry.logsource;
    if (!agrees(want.product, logsource.product) || !agrees(want.category, logsource.category) ||
        !agrees(want.service, logsource.service))
      continue;
    // A rule's category and service say what its events are: an entry must name them.
    if (!logsource.category.empty() && want.category.empty()) continue;
    if (!logsource.service.empty() && want.service.empty()) continue;
    int score = !want.product.empty() + !want.category.empty() + !want.service.empty();
    if (score > best_score) {  // the first of equals wins: files added later come first
      best = &entry;
      best_score = score;
    }
  }
  return best;
}

FieldMapping Mapping::field(const LogsourceMapping& entry, const std::string& sigma_field) const {
  if (auto it = entry.fields.find(sigma_field); it != entry.fields.end()) return it->second;
  // An ECS name is itself, whatever the entry puts before unmapped names; so is a
  // name already under that prefix (aws.cloudtrail.flattened.request_parameters.*).
  const bool ecs =
      FieldTypes::ecs().find(sigma_field).has_value() ||
      (!entry.unmapped_prefix.empty() && sigma_field.starts_with(entry.unmapped_prefix));
  // Entries for the same logsource further down the list (the built-in ones).
  bool past = false;
  for (const LogsourceMapping& other : entries_) {
    if (&other == &entry) {
      past = true;
      continue;
    }
    if (!past || other.logsource.product != entry.logsource.product ||
        other.logsource.category != entry.logsource.category ||
        other.logsource.service != entry.logsource.service)
      continue;
    if (auto it = other.fields.find(sigma_field); it != other.fields.end()) return it->second;
  }
  return {ecs ? sigma_field : entry.unmapped_prefix + sigma_field, {}};
}

}  // namespace pickaxe::sigma
