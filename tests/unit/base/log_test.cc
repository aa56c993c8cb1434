#include "libs/base/log.h"

#include <spdlog/sinks/ostream_sink.h>

#include <memory>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tailor {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

TEST(ParseLogLevelTest, AnyCase) {
  EXPECT_EQ(*ParseLogLevel("INFO"), spdlog::level::info);
  EXPECT_EQ(*ParseLogLevel("Debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("WARNING"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("error"), spdlog::level::err);
  EXPECT_EQ(*ParseLogLevel("off"), spdlog::level::off);
}

TEST(ParseLogLevelTest, UnknownIsRefused) {
  for (const char* bad : {"", "verbose", "inf", "trace", "critical"}) {
    auto level = ParseLogLevel(bad);
    ASSERT_FALSE(level.ok()) << bad;
    EXPECT_THAT(level.status().message(), HasSubstr("unknown log level"));
  }
}

TEST(ParseLogFormatTest, TextOrJson) {
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(*ParseLogFormat("TEXT"), LogFormat::kText);
  EXPECT_FALSE(ParseLogFormat("xml").ok());
}

TEST(AppendJsonEscapedTest, EscapesQuotesBackslashesAndControls) {
  std::string out;
  AppendJsonEscaped("a\"b\\c\nd\te\x01 zażółć", &out);
  EXPECT_EQ(out, "a\\\"b\\\\c\\nd\\te\\u0001 zażółć");
}

std::string LogThrough(LogFormat format, const std::string& message) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
  spdlog::logger logger("personalizer", sink);
  logger.set_formatter(MakeLogFormatter(format));
  logger.warn("{}", message);
  return out.str();
}

TEST(LogFormatterTest, JsonIsOneObjectPerLine) {
  const std::string line = LogThrough(LogFormat::kJson, "stop \"now\"\nplease");
  EXPECT_THAT(
      line, MatchesRegex(
                R"(\{"time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z",)"
                R"("level":"warning","logger":"personalizer",)"
                R"("msg":"stop \\"now\\"\\nplease"\}
)"));
}

TEST(LogFormatterTest, TextIsOneLine) {
  const std::string line = LogThrough(LogFormat::kText, "hello");
  EXPECT_THAT(line, MatchesRegex(".*Z W personalizer: hello\n"));
}

}  // namespace
}  // namespace tailor
