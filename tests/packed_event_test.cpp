// Events waiting in the reorder buffer are packed into one block: unpacking
// must give back exactly the event that was packed.
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include <simdjson.h>

#include "event/packed_event.h"

namespace pickaxe::testing {
namespace {

struct Extracted {
  Schema schema;
  FieldIndex fields;
  Event event;
  Extracted(const std::vector<std::string>& paths, const std::string& json) {
    for (const std::string& path : paths) fields.add(path);
    simdjson::dom::parser parser;
    event.fields.reset(fields.size());
    extract_fields(parser.parse(json).value(), fields, schema, event);
  }
};

// Extraction remembers the key it last saw at each place of an object: keys
// in another order, a key that changes what it holds, an index that grows,
// and two indexes taking turns must all give the values the document holds.
TEST(Extraction, KeysInAnyOrderAndIndexesThatChange) {
  Schema schema;
  simdjson::dom::parser parser;
  auto extract = [&](const FieldIndex& fields, const std::string& json) {
    Event event;
    event.fields.reset(fields.size());
    extract_fields(parser.parse(json).value(), fields, schema, event);
    std::string out;
    for (uint32_t slot = 0; slot < fields.size(); ++slot) {
      out += fields.path(slot) + "=";
      for (const Scalar& value : event.fields[slot]) out += value.to_string() + ",";
      out += ";";
    }
    return out;
  };
  FieldIndex fields;
  fields.add("a.b");
  fields.add("c");
  EXPECT_EQ(extract(fields, R"({"a":{"b":1},"c":"x"})"), "a.b=1,;c=x,;");
  EXPECT_EQ(extract(fields, R"({"c":"y","a":{"b":2}})"), "a.b=2,;c=y,;");
  EXPECT_EQ(extract(fields, R"({"a":"flat","c":"z"})"), "a.b=;c=z,;");
  EXPECT_EQ(extract(fields, R"({"a.b":3,"c":"z"})"), "a.b=3,;c=z,;");
  EXPECT_EQ(extract(fields, R"({"d":5,"a":{"b":1}})"), "a.b=1,;c=;");
  fields.add("d");  // the root's first key now leads somewhere
  EXPECT_EQ(extract(fields, R"({"d":5,"a":{"b":1}})"), "a.b=1,;c=;d=5,;");
  FieldIndex only_x, only_y;
  only_x.add("x");
  only_y.add("y");
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(extract(only_x, R"({"x":1,"y":2})"), "x=1,;");
    EXPECT_EQ(extract(only_y, R"({"x":1,"y":2})"), "y=2,;");
  }
}

void expect_same_values(const Event& a, const Event& b);

// Describes an event's values slot by slot, with their types.
std::string describe_values(const FieldIndex& fields, const Event& event) {
  std::string out;
  for (uint32_t slot = 0; slot < fields.size(); ++slot) {
    out += fields.path(slot) + "=";
    for (const Scalar& value : event.fields[slot])
      out += fmt::format("{}:{},", static_cast<int>(value.type), value.to_string());
    out += ";";
  }
  return out;
}

// One event extracted into again and again (as a worker does) gives what a
// fresh event gives: values written over the previous event's, of other
// types, longer and shorter, fewer and more, in any key order, duplicated,
// null, and converted by the schema.
TEST(Extraction, AnEventReusedGivesWhatAFreshOneGives) {
  Schema schema;  // ECS: process.pid is a long, process.name a keyword
  FieldIndex fields;
  for (const char* path : {"process.name", "process.pid", "process.args", "host.ip", "x", "y"})
    fields.add(path);
  const std::string long_text(1000, 'l');
  const std::vector<std::string> documents = {
      R"({"process":{"name":"bash","pid":12,"args":["a","b","c"]},"host":{"ip":"10.0.0.1"},"x":1})",
      R"({"process":{"name":7,"pid":"13","args":")" + long_text + R"("},"x":"s","y":[true,false]})",
      R"({"y":1.5,"x":null,"process":{"args":["only"],"pid":true,"name":null}})",
      R"({"process":{"args":[]},"x":[1,"two",3.5,false,null]})",
      R"({"x":"first","x":"second","process":{"name":"a","name":"b"}})",
      R"({"process":{"args":[")" + long_text + R"(","short"]},"host":{"ip":["::1","10.0.0.2"]}})",
      R"({"host":{"ip":"10.0.0.3"}})",
      R"({"process":{"name":"bash","pid":12,"args":["a","b","c"]},"host":{"ip":"10.0.0.1"},"x":1})",
  };
  simdjson::dom::parser parser;
  Event reused;
  for (int round = 0; round < 2; ++round) {
    for (const std::string& json : documents) {
      simdjson::dom::element document = parser.parse(json).value();
      Event fresh;
      extract_fields(document, fields, schema, fresh);
      extract_fields(document, fields, schema, reused);
      EXPECT_EQ(describe_values(fields, reused), describe_values(fields, fresh)) << json;
      expect_same_values(reused, fresh);
    }
  }
}

// Entries filled out of slot order and then cut down are still found by slot.
TEST(Extraction, EntriesKeptFromAnOutOfOrderEventAreFound) {
  Schema schema;
  FieldIndex fields;
  for (const char* path : {"a", "b", "c", "d"}) fields.add(path);
  simdjson::dom::parser parser;
  Event event;
  const std::string json = R"({"d":4,"c":3,"b":2,"a":1})";
  extract_fields(parser.parse(json).value(), fields, schema, event);
  event.fields.retain([](uint32_t slot) { return slot == 0 || slot == 3; });
  ASSERT_EQ(event.fields[0].size(), 1u);
  EXPECT_EQ(event.fields[0][0].integer, 1);
  ASSERT_EQ(event.fields[3].size(), 1u);
  EXPECT_EQ(event.fields[3][0].integer, 4);
  EXPECT_TRUE(event.fields[1].empty());
  EXPECT_TRUE(event.fields[2].empty());
}

void expect_same_values(const Event& a, const Event& b) {
  ASSERT_EQ(a.fields.size(), b.fields.size());
  ASSERT_EQ(a.fields.entries().size(), b.fields.entries().size());
  for (size_t i = 0; i < a.fields.entries().size(); ++i) {
    const auto& [slot_a, values_a] = a.fields.entries()[i];
    const auto& [slot_b, values_b] = b.fields.entries()[i];
    EXPECT_EQ(slot_a, slot_b);
    ASSERT_EQ(values_a.size(), values_b.size()) << "slot " << slot_a;
    for (size_t v = 0; v < values_a.size(); ++v) {
      EXPECT_EQ(values_a[v].type, values_b[v].type);
      EXPECT_TRUE(values_a[v] == values_b[v]) << values_a[v].to_string();
    }
  }
}

TEST(PackedEvent, GivesBackEveryKindOfValue) {
  const std::string long_text(300, 'x');
  Extracted extracted({"a", "b", "c", "d", "e", "f", "unused"},
                      R"({"a":"short","b":[1,-2,9007199254740993],"c":1.5,"d":[true,false],)"
                      R"("e":null,"f":")" +
                          long_text + R"(\u00e9"})");
  Event& event = extracted.event;
  event.timestamp = 1'700'000'000'123'456'789;
  event.has_timestamp = true;
  event.line = 42;
  event.owned_source = "{\"the\":\"document\"}";
  PackedEvent packed(event);
  Event back;
  packed.unpack(back);
  expect_same_values(event, back);
  EXPECT_EQ(back.timestamp, event.timestamp);
  EXPECT_TRUE(back.has_timestamp);
  EXPECT_EQ(back.line, 42u);
  EXPECT_EQ(back.source(), "{\"the\":\"document\"}");
  EXPECT_EQ(back.fields[5].at(0).string, long_text + "\xc3\xa9");
  EXPECT_EQ(back.fields[1].at(2).integer, 9007199254740993);
  // One block, smaller than the values it replaces.
  EXPECT_LT(packed.bytes(), sizeof(Event) + event.fields.memory() + long_text.size() + 64);
}

TEST(PackedEvent, KeepsAViewIntoAMappedInput) {
  const std::string mapped = R"({"a":"x"})";
  Extracted extracted({"a"}, mapped);
  extracted.event.mapped_source = mapped;
  PackedEvent packed(extracted.event);
  Event back;
  back.owned_source = "left over from an earlier event";
  packed.unpack(back);
  EXPECT_EQ(back.source().data(), mapped.data());  // a view, not a copy
  EXPECT_TRUE(back.owned_source.empty());
  EXPECT_LT(packed.bytes(), 100u);
}

TEST(PackedEvent, AnswersForOneSlotAndTakesNewTimesAndLines) {
  Extracted extracted({"tiebreaker", "other"}, R"({"other":["p","q"],"tiebreaker":7})");
  PackedEvent packed(extracted.event);
  ASSERT_TRUE(packed.first_value(0));
  EXPECT_EQ(packed.first_value(0)->integer, 7);
  EXPECT_EQ(packed.first_value(1)->string, "p");
  EXPECT_FALSE(packed.first_value(2));
  // Found past values of every type, each stepped over.
  Extracted mixed({"a", "b", "c", "d", "e", "f"},
                  R"({"a":["xy","z"],"b":[true,false],"c":[1.5,-2],"d":"last","f":[]})");
  PackedEvent mixed_packed(mixed.event);
  ASSERT_TRUE(mixed_packed.first_value(3));
  EXPECT_EQ(mixed_packed.first_value(3)->string, "last");
  EXPECT_EQ(mixed_packed.first_value(2)->number, 1.5);
  EXPECT_TRUE(mixed_packed.first_value(1)->boolean);
  EXPECT_FALSE(mixed_packed.first_value(4));
  EXPECT_FALSE(mixed_packed.first_value(5));
  EXPECT_FALSE(packed.has_timestamp());
  packed.set_timestamp(5);
  packed.set_line(9);
  Event back;
  packed.unpack(back);
  EXPECT_EQ(back.timestamp, 5);
  EXPECT_EQ(back.line, 9u);
}

TEST(PackedEvent, AnEventWithoutValuesOrDocument) {
  Event event;
  PackedEvent packed(event);
  Event back;
  back.fields.reset(3);
  back.fields.at(1).push_back(Scalar::of_long(1));  // replaced by what was packed
  packed.unpack(back);
  EXPECT_TRUE(back.fields.entries().empty());
  EXPECT_TRUE(back.source().empty());
}

TEST(PackedValues, EqualKeysPackEquallyAndComeBack) {
  auto packed = [](std::vector<Scalar> key) {
    std::string out;
    for (const Scalar& value : key) pack_value(out, value);
    return out;
  };
  EXPECT_EQ(packed({Scalar::of_double(-0.0)}), packed({Scalar::of_double(0.0)}));
  EXPECT_EQ(packed({Scalar::of_double(std::nan("1"))}), packed({Scalar::of_double(std::nan(""))}));
  // Keys order by type first: a long and a double are different keys.
  EXPECT_NE(packed({Scalar::of_long(1)}), packed({Scalar::of_double(1.0)}));
  // "ab","c" and "a","bc" must not collide.
  EXPECT_NE(packed({Scalar::of_string("ab"), Scalar::of_string("c")}),
            packed({Scalar::of_string("a"), Scalar::of_string("bc")}));
  std::vector<Scalar> key{Scalar::of_string("host-1"), Scalar::of_long(-7), Scalar::null(),
                          Scalar::of_bool(true), Scalar::of_double(2.5)};
  std::string bytes = packed(key);
  std::string_view rest = bytes;
  for (const Scalar& expected : key) {
    Scalar value = unpack_value(rest).value();
    EXPECT_EQ(value.type, expected.type);
    EXPECT_TRUE(value == expected) << expected.to_string();
  }
  EXPECT_TRUE(rest.empty());
}

size_t open_descriptors() {
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                                           std::filesystem::directory_iterator{}));
}

TEST(DocumentSpool, DocumentsComeBackAndFilesGoWhenUnused) {
  const size_t before = open_descriptors();
  {
    DocumentSpool spool("", 100);  // segments of 100 bytes: a new file every few documents
    std::vector<SpooledDocument> held;
    for (int i = 0; i < 20; ++i) {
      auto document = spool.store(fmt::format("{{\"document\":{},\"padding\":\"{}\"}}", i,
                                              std::string(static_cast<size_t>(i) * 3, 'x')));
      ASSERT_TRUE(document) << spool.last_error();
      held.push_back(std::move(*document));
    }
    EXPECT_EQ(spool.stored(), 20u);
    for (int i = 0; i < 20; ++i) {
      std::string text;
      ASSERT_TRUE(held[static_cast<size_t>(i)].read(text));
      EXPECT_EQ(text, fmt::format("{{\"document\":{},\"padding\":\"{}\"}}", i,
                                  std::string(static_cast<size_t>(i) * 3, 'x')));
    }
    const size_t all_held = open_descriptors();
    EXPECT_GT(all_held, before + 5);              // several segments open
    held.erase(held.begin(), held.begin() + 15);  // the early segments are no longer referred to
    EXPECT_LT(open_descriptors(), all_held);
    EXPECT_LE(open_descriptors(), before + 5);  // at most one per document left
  }
  EXPECT_EQ(open_descriptors(), before);  // every file closed, so gone
}

TEST(DocumentSpool, AFolderItCannotWriteToIsAFailureWithItsReason) {
  DocumentSpool spool("/nonexistent-pickaxe-folder");
  EXPECT_FALSE(spool.store("{}"));
  EXPECT_EQ(spool.failures(), 1u);
  EXPECT_NE(spool.last_error().find("/nonexistent-pickaxe-folder"), std::string::npos)
      << spool.last_error();
}

TEST(DocumentSpool, AnEventReadsItsDocumentWhereverItIs) {
  DocumentSpool spool;
  Event event;
  event.owned_source = R"({"a":1})";
  EXPECT_EQ(event.document(), R"({"a":1})");
  event.spooled = *spool.store(event.owned_source);
  event.owned_source.clear();
  EXPECT_EQ(event.document(), R"({"a":1})");
}

}  // namespace
}  // namespace pickaxe::testing
