#include "scan/events.h"

#include <simdjson.h>

#include <fmt/format.h>

#include "scan/yara_set.h"
#include "util/json_writer.h"

namespace pickaxe::scan {

namespace {

using simdjson::dom::element;

// The strings of the array at `key`; none when it is missing or null.
std::vector<std::string> strings_at(element object, std::string_view key) {
  std::vector<std::string> values;
  simdjson::dom::array items;
  if (object[key].get(items) != simdjson::SUCCESS) return values;
  for (element item : items) {
    std::string_view text;
    if (item.get(text) == simdjson::SUCCESS) values.emplace_back(text);
  }
  return values;
}

std::string text_of(element object, std::string_view key) {
  std::string_view text;
  return object[key].get(text) == simdjson::SUCCESS ? std::string(text) : std::string();
}

void string_array(JsonWriter& json, std::string_view key, const std::vector<std::string>& values) {
  json.key(key).begin_array();
  for (const std::string& value : values) json.value(value);
  json.end_array();
}

const char* state_action(FileState state) {
  switch (state) {
    case FileState::Present: return "image-file";
    case FileState::Deleted: return "image-file-deleted";
    case FileState::Replaced: return "image-file-replaced";
  }
  return "image-file";
}

// Resolved from the link's folder (or the root, for an absolute target).
bool climbs_out(const std::string& link_path, const std::string& target) {
  if (!target.empty() && target.front() == '/') return !normalise_path(target);
  return !normalise_path(link_path.substr(0, link_path.rfind('/') + 1) + target);
}

class EventWriter {
 public:
  EventWriter(const Image& image, const EventContext& context,
              const std::function<void(std::string_view)>& emit)
      : image_(image), context_(context), emit_(emit) {}

  // Opens an event with the fields every event carries.
  JsonWriter& begin(std::string_view action, std::string_view category) {
    json_ = JsonWriter();
    json_.begin_object();
    json_.key("@timestamp").value(context_.timestamp);
    json_.key("event").begin_object();
    json_.key("kind").value("event").key("module").value("pickaxe.scan");
    json_.key("dataset").value("pickaxe.scan").key("action").value(action);
    json_.key("category").begin_array().value(category).end_array();
    json_.key("type").begin_array().value("info").end_array();
    json_.end_object();
    json_.key("data_stream").begin_object().key("type").value("logs");
    json_.key("dataset").value("pickaxe.scan").key("namespace").value("default").end_object();
    json_.key("container").begin_object().key("image").begin_object();
    json_.key("name").value(image_.reference);
    if (!image_.tags.empty()) string_array(json_, "tag", image_.tags);
    json_.key("hash").begin_object().key("all").begin_array();
    if (!image_.manifest_digest.empty()) json_.value(image_.manifest_digest);
    if (!image_.config_digest.empty()) json_.value(image_.config_digest);
    json_.end_array().end_object().end_object().end_object();
    if (const size_t slash = image_.platform.find('/'); slash != std::string::npos)
      json_.key("host")
          .begin_object()
          .key("os")
          .begin_object()
          .key("type")
          .value(std::string_view(image_.platform).substr(0, slash))
          .end_object()
          .end_object();
    return json_;
  }
  // Closes the `pickaxe.scan` object begun by the caller and the event.
  void end() {
    json_.end_object();
    buffer_ += json_.str();
    buffer_ += '\n';
    ++counts_.events;
    if (buffer_.size() >= (size_t{1} << 20)) flush();
  }
  // The start of `pickaxe.scan`: the image facts.
  void scan_object() {
    json_.key("pickaxe").begin_object().key("scan").begin_object();
    json_.key("input").value(context_.input);
    json_.key("image").begin_object();
    json_.key("reference").value(image_.reference).key("platform").value(image_.platform);
  }
  void flush() {
    if (!buffer_.empty()) emit_(buffer_);
    buffer_.clear();
  }

  void config_event(element config_root) {
    element config;
    const bool has_config = config_root["config"].get(config) == simdjson::SUCCESS ||
                            config_root["container_config"].get(config) == simdjson::SUCCESS;
    std::vector<std::string> args, env, labels, ports;
    std::string user, working_directory;
    if (has_config && config.is_object()) {
      args = strings_at(config, "Entrypoint");
      std::vector<std::string> cmd = strings_at(config, "Cmd");
      args.insert(args.end(), cmd.begin(), cmd.end());
      env = strings_at(config, "Env");
      user = text_of(config, "User");
      working_directory = text_of(config, "WorkingDir");
      simdjson::dom::object object;
      if (config["Labels"].get(object) == simdjson::SUCCESS)
        for (auto [key, value] : object) {
          std::string_view text;
          labels.push_back(std::string(key) + "=" +
                           (value.get(text) == simdjson::SUCCESS ? std::string(text) : ""));
        }
      if (config["ExposedPorts"].get(object) == simdjson::SUCCESS)
        for (auto [key, value] : object) ports.emplace_back(key);
    }
    JsonWriter& json = begin("image-config", "package");
    if (!args.empty() || !env.empty() || !working_directory.empty()) {
      json.key("process").begin_object();
      if (!args.empty()) {
        std::string line;
        for (const std::string& arg : args) {
          if (!line.empty()) line += ' ';
          line += arg;
        }
        json.key("executable").value(args.front());
        json.key("name").value(std::string_view(args.front()).substr(args.front().rfind('/') + 1));
        string_array(json, "args", args);
        json.key("args_count").value(static_cast<int64_t>(args.size()));
        json.key("command_line").value(line);
      }
      if (!env.empty()) string_array(json, "env_vars", env);
      if (!working_directory.empty()) json.key("working_directory").value(working_directory);
      json.end_object();
    }
    if (!user.empty()) json.key("user").begin_object().key("name").value(user).end_object();
    scan_object();
    if (!labels.empty()) string_array(json, "labels", labels);
    if (!ports.empty()) string_array(json, "exposed_ports", ports);
    json.key("layers").value(static_cast<int64_t>(image_.layers.size()));
    if (std::string created = text_of(config_root, "created"); !created.empty())
      json.key("created").value(created);
    json.end_object().end_object().end_object();
    end();
  }

  void history_events(element config_root) {
    simdjson::dom::array history;
    if (config_root["history"].get(history) != simdjson::SUCCESS) return;
    int64_t index = 0;
    for (element entry : history) {
      JsonWriter& json = begin("image-history", "package");
      if (std::string command = text_of(entry, "created_by"); !command.empty())
        json.key("process").begin_object().key("command_line").value(command).end_object();
      if (std::string comment = text_of(entry, "comment"); !comment.empty())
        json.key("message").value(comment);
      scan_object();
      json.end_object();
      json.key("history").begin_object().key("index").value(index++);
      bool empty_layer = false;
      if (entry["empty_layer"].get(empty_layer) != simdjson::SUCCESS) empty_layer = false;
      json.key("empty_layer").value(empty_layer);
      if (std::string created = text_of(entry, "created"); !created.empty())
        json.key("created").value(created);
      json.end_object().end_object().end_object();
      end();
    }
  }

  void file_event(const StackedFile& stacked) {
    const FileRecord& file = *stacked.record;
    JsonWriter& json = begin(state_action(stacked.state), "file");
    json.key("file").begin_object();
    json.key("path").value(file.path);
    const size_t slash = file.path.rfind('/');
    const std::string name = file.path.substr(slash + 1);
    json.key("name").value(name);
    json.key("directory").value(slash == 0 ? std::string("/") : file.path.substr(0, slash));
    if (const size_t dot = name.rfind('.');
        dot != std::string::npos && dot > 0 && dot + 1 < name.size())
      json.key("extension").value(std::string_view(name).substr(dot + 1));
    json.key("type").value(file.type == FileRecord::Type::Symlink ? "symlink" : "file");
    json.key("size").value(static_cast<int64_t>(file.size));
    json.key("mode").value(fmt::format("{:04o}", file.mode));
    json.key("uid").value(std::to_string(file.uid)).key("gid").value(std::to_string(file.gid));
    if (!file.owner.empty()) json.key("owner").value(file.owner);
    if (!file.group.empty()) json.key("group").value(file.group);
    if (file.type != FileRecord::Type::Symlink) {
      std::vector<std::string> attributes;
      if (file.mode & 04000) attributes.push_back("setuid");
      if (file.mode & 02000) attributes.push_back("setgid");
      if (file.mode & 0111) attributes.push_back("executable");
      if (!attributes.empty()) string_array(json, "attributes", attributes);
    }
    if (file.hashed)
      json.key("hash").begin_object().key("sha256").value(hex(file.sha256)).end_object();
    if (file.type == FileRecord::Type::Symlink) json.key("target_path").value(file.target);
    if (file.elf.present) {
      json.key("elf").begin_object();
      json.key("architecture").value(file.elf.architecture);
      json.key("byte_order").value(file.elf.byte_order);
      json.key("header").begin_object().key("class").value(file.elf.header_class);
      json.key("type").value(file.elf.header_type).end_object();
      json.end_object();
    }
    json.end_object();
    if (!file.yara.empty() && context_.yara) {
      std::vector<std::string> rules, tags;
      for (uint16_t rule : file.yara) {
        rules.push_back(context_.yara->rule_name(rule));
        for (const std::string& tag : context_.yara->rule_tags(rule))
          if (std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(tag);
      }
      json.key("yara").begin_object();
      string_array(json, "rule", rules);
      if (!tags.empty()) string_array(json, "tags", tags);
      json.end_object();
    }
    scan_object();
    json.end_object();
    if (file.elf.present || file.type != FileRecord::Type::File) {
      json.key("file").begin_object();
      if (file.elf.present) json.key("stripped").value(file.elf.stripped);
      if (file.type == FileRecord::Type::HardLink) json.key("hard_link_to").value(file.target);
      if (file.type == FileRecord::Type::Symlink)
        json.key("escapes_root").value(climbs_out(file.path, file.target));
      json.end_object();
    }
    const ImageLayer& layer = image_.layers[stacked.layer];
    json.key("layer").begin_object().key("digest").value(layer.digest);
    json.key("index").value(static_cast<int64_t>(stacked.layer)).end_object();
    json.end_object().end_object();
    end();
    if (stacked.state == FileState::Present && file.type != FileRecord::Type::Symlink)
      ++counts_.files;
  }

  ImageCounts counts() const { return counts_; }

 private:
  const Image& image_;
  const EventContext& context_;
  const std::function<void(std::string_view)>& emit_;
  JsonWriter json_;
  std::string buffer_;
  ImageCounts counts_;
};

}  // namespace

ImageCounts write_image_events(const Image& image, const EventContext& context,
                               const std::function<void(std::string_view)>& emit) {
  EventWriter writer(image, context, emit);
  simdjson::dom::parser parser;
  element root;
  if (parser.parse(image.config).get(root) == simdjson::SUCCESS) {
    writer.config_event(root);
    writer.history_events(root);
  }
  for (const StackedFile& file : stack_layers(image)) writer.file_event(file);
  writer.flush();
  return writer.counts();
}

}  // namespace pickaxe::scan
