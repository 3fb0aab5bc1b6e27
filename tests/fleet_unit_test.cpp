// The fleet's parts that need no server: partitioning, which rules stay
// exact, the checkpoint format, and the reader `ship` publishes from.
#include <sstream>

#include <gtest/gtest.h>

#include "fleet/checkpoint.h"
#include "fleet/fleet.h"
#include "fleet/partitioning.h"
#include "rules/rule_loader.h"
#include "source/documents.h"
#include "test_util.h"

namespace pickaxe::fleet {
namespace {

std::optional<KeyValue> key_of(const std::string& json, const std::vector<std::string>& key) {
  static simdjson::dom::parser parser;
  simdjson::dom::element document = parser.parse(json).value();
  return partition_key_of(document, key);
}

TEST(FleetPartitioning, TheKeyIsTheFirstFieldAnEventHoldsNestedOrDotted) {
  const std::vector<std::string> key = default_partition_key();
  auto nested = key_of(R"({"host":{"name":"web-1","id":"abc"}})", key);
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->field, "host.id");
  EXPECT_EQ(nested->value, "abc");
  auto dotted = key_of(R"({"host.name":"web-1"})", key);
  ASSERT_TRUE(dotted);
  EXPECT_EQ(dotted->field, "host.name");
  auto mixed = key_of(R"({"cloud":{"account.id":"1234"}})", key);
  ASSERT_TRUE(mixed);
  EXPECT_EQ(mixed->value, "1234");
  auto array = key_of(R"({"container":{"id":["c1"]}})", key);
  ASSERT_TRUE(array);
  EXPECT_EQ(array->value, "c1");
  EXPECT_FALSE(key_of(R"({"host":{"name":""}, "user":{"name":"x"}})", key));
  EXPECT_FALSE(key_of(R"({"host":{"name":["a","b"]}})", key));  // no one value
}

TEST(FleetPartitioning, PartitionsAreStableAndSpread) {
  // FNV-1a: the same value lands in the same partition in every build.
  EXPECT_EQ(partition_of("web-1", 16), 15u);
  EXPECT_EQ(partition_of("", 16), 5u);
  std::vector<int> counts(16);
  for (int i = 0; i < 1600; ++i) ++counts[partition_of("node-" + std::to_string(i), 16)];
  for (int count : counts) EXPECT_GT(count, 50);
}

TEST(FleetPartitioning, TheLayoutRoundTripsAndRejectsDamage) {
  Layout layout;
  layout.partitions = 8;
  layout.key = {"host.name", "container.id"};
  std::optional<Layout> back = Layout::decode(layout.encode());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, layout);
  EXPECT_FALSE(Layout::decode(""));
  EXPECT_FALSE(Layout::decode("0 host.name"));
  EXPECT_FALSE(Layout::decode("8 host.name,,x"));
  EXPECT_FALSE(Layout::decode("eight host.name"));
}

TEST(FleetPartitioning, SubjectsAreTokens) {
  EXPECT_EQ(events_subject(3), "pickaxe.events.3");
  EXPECT_EQ(alerts_subject("a.b c*>"), "pickaxe.alerts.a_b_c__");
  EXPECT_EQ(alerts_subject("7b3d9f1a-5e2c"), "pickaxe.alerts.7b3d9f1a-5e2c");
}

Exactness exactness_of(const std::string& query, const std::vector<std::string>& key,
                       const std::vector<std::string>& suppress_by = {}) {
  LoadResult loaded;
  load_rule_text("fleet.eql", query, loaded);
  EXPECT_EQ(loaded.rules.size(), 1u);
  EXPECT_TRUE(loaded.rules.at(0).loaded()) << query;
  return partition_exactness(loaded.rules.at(0), key, suppress_by);
}

TEST(FleetPartitioning, OnlyJoinsOnTheKeysFirstFieldAreExact) {
  const std::vector<std::string> by_host_id = default_partition_key();
  const std::vector<std::string> by_host_name = {"host.name"};
  EXPECT_TRUE(exactness_of("process where process.name == \"xmrig\"", by_host_id).exact);
  const std::string by_name = "sequence by host.name [process where true] [network where true]";
  EXPECT_TRUE(exactness_of(by_name, by_host_name).exact);
  // host.id decides where an event holding it goes: host.name does not.
  Exactness later_field = exactness_of(by_name, by_host_id);
  EXPECT_FALSE(later_field.exact);
  EXPECT_EQ(later_field.reason, "a sequence not joined by host.id");
  // Per-step keys in one position count; in different positions they do not.
  EXPECT_TRUE(
      exactness_of("sequence [process where true] by host.name [network where true] by host.name",
                   by_host_name)
          .exact);
  EXPECT_FALSE(exactness_of("sequence [process where true] by host.name, user.name "
                            "[network where true] by user.name, host.name",
                            by_host_name)
                   .exact);
  EXPECT_FALSE(exactness_of("sequence by ?host.name [process where true] [network where true]",
                            by_host_name)
                   .exact);  // an optional key joins nulls
  EXPECT_FALSE(
      exactness_of("sample by user.name [process where true] [network where true]", by_host_name)
          .exact);
  EXPECT_FALSE(exactness_of("process where true | head 5", by_host_name).exact);
  Exactness suppressed =
      exactness_of("process where true", by_host_name, std::vector<std::string>{"user.name"});
  EXPECT_FALSE(suppressed.exact);
  EXPECT_EQ(suppressed.reason, "--suppress-by does not include host.name");
}

TEST(FleetCheckpoint, RoundTripsAndRefusesDamage) {
  PartitionCheckpoint checkpoint;
  checkpoint.sequence = 12345;
  checkpoint.rule_set = "rules";
  checkpoint.hunt = std::string("state\0bytes", 11);
  checkpoint.dead_letters = 2;
  const std::string bytes = encode_checkpoint(checkpoint);
  PartitionCheckpoint back;
  std::string error;
  ASSERT_TRUE(decode_checkpoint(bytes, back, error)) << error;
  EXPECT_EQ(back.sequence, 12345u);
  EXPECT_EQ(back.hunt, checkpoint.hunt);
  EXPECT_EQ(back.dead_letters, 2u);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    PartitionCheckpoint partial;
    EXPECT_FALSE(decode_checkpoint(bytes.substr(0, cut), partial, error)) << cut;
  }
  EXPECT_FALSE(decode_checkpoint("PXWS\x02\0\0\0", back, error));
  EXPECT_EQ(back.sequence, 0u);
  // Another version: refused, but its sequence is still known.
  std::string newer = bytes;
  newer[newer.find("PXFC") + 4] = 2;
  PartitionCheckpoint other;
  EXPECT_FALSE(decode_checkpoint(newer, other, error));
  EXPECT_EQ(error, "fleet checkpoint version 2 is not 1");
  EXPECT_EQ(other.sequence, 12345u);
}

struct Emitted {
  std::string ecs;
  uint64_t line;
  uint32_t index;
  SourceKind source;
};

std::vector<Emitted> read_whole(const std::string& text, std::vector<InputProblem>* problems) {
  std::vector<Emitted> out;
  DocumentReader reader(
      SourceKind::Auto, 1 << 20,
      [&](std::string_view ecs, uint64_t line, uint32_t index, SourceKind source) {
        out.push_back({std::string(ecs), line, index, source});
      },
      [&](const InputProblem& problem) {
        if (problems) problems->push_back(problem);
      });
  std::istringstream in(text);
  reader.read(in, "input");
  return out;
}

std::vector<Emitted> feed_in_pieces(const std::string& text, size_t piece) {
  std::vector<Emitted> out;
  DocumentReader reader(
      SourceKind::Auto, 1 << 20,
      [&](std::string_view ecs, uint64_t line, uint32_t index, SourceKind source) {
        out.push_back({std::string(ecs), line, index, source});
      },
      nullptr);
  LiveInput input;
  input.name = "input";
  for (size_t at = 0; at < text.size(); at += piece) reader.feed(input, text.substr(at, piece));
  reader.end(input);
  return out;
}

TEST(FleetShipReader, EcsLinesGoAsWrittenAndOtherSourcesDecoded) {
  const std::string text =
      "{\"@timestamp\":\"2026-01-01T00:00:00Z\",\"host\":{\"name\":\"a\"}}\n"
      "not json\n"
      "{\"Records\":[{\"eventVersion\":\"1.09\",\"eventSource\":\"ec2.amazonaws.com\","
      "\"eventName\":\"RunInstances\",\"eventTime\":\"2026-01-01T00:00:01Z\","
      "\"awsRegion\":\"us-east-1\",\"recipientAccountId\":\"1111\"},{\"eventVersion\":\"1.09\","
      "\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"GetObject\","
      "\"eventTime\":\"2026-01-01T00:00:02Z\",\"recipientAccountId\":\"1111\"}]}\n";
  std::vector<InputProblem> problems;
  std::vector<Emitted> whole = read_whole(text, &problems);
  ASSERT_EQ(whole.size(), 3u);
  EXPECT_EQ(whole[0].ecs, "{\"@timestamp\":\"2026-01-01T00:00:00Z\",\"host\":{\"name\":\"a\"}}");
  EXPECT_EQ(whole[0].source, SourceKind::Ecs);
  EXPECT_EQ(whole[1].source, SourceKind::CloudTrail);
  EXPECT_EQ(whole[1].line, 3u);
  EXPECT_EQ(whole[1].index, 0u);
  EXPECT_EQ(whole[2].index, 1u);  // a second record of the same line
  EXPECT_NE(whole[1].ecs.find("\"cloud\""), std::string::npos);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 2u);
  // Fed in pieces of any size, as a followed file, the same documents come.
  for (size_t piece : {1, 7, 64, 4096}) {
    std::vector<Emitted> fed = feed_in_pieces(text, piece);
    ASSERT_EQ(fed.size(), whole.size()) << piece;
    for (size_t i = 0; i < fed.size(); ++i) {
      EXPECT_EQ(fed[i].ecs, whole[i].ecs);
      EXPECT_EQ(fed[i].line, whole[i].line);
      EXPECT_EQ(fed[i].index, whole[i].index);
    }
  }
}

TEST(FleetShipReader, APrettyPrintedCloudTrailFileIsReadWhole) {
  const std::string path =
      std::string(PICKAXE_SOURCE_DIR) + "/emulations/4-ec2-community-ami/cloudtrail.json";
  std::vector<InputProblem> problems;
  std::vector<Emitted> documents = read_whole(testing::read_text(path), &problems);
  EXPECT_TRUE(problems.empty());
  ASSERT_FALSE(documents.empty());
  for (const Emitted& document : documents) EXPECT_EQ(document.source, SourceKind::CloudTrail);
}

TEST(FleetShipReader, AuditdRecordsJoinIntoOneEvent) {
  const std::string path =
      std::string(PICKAXE_SOURCE_DIR) + "/emulations/1-miner-in-container/audit.log";
  const std::string text = testing::read_text(path);
  std::vector<Emitted> whole = read_whole(text, nullptr);
  ASSERT_FALSE(whole.empty());
  for (const Emitted& document : whole) EXPECT_EQ(document.source, SourceKind::Auditd);
  std::vector<Emitted> fed = feed_in_pieces(text, 13);
  ASSERT_EQ(fed.size(), whole.size());
  for (size_t i = 0; i < fed.size(); ++i) EXPECT_EQ(fed[i].ecs, whole[i].ecs);
}

}  // namespace
}  // namespace pickaxe::fleet
