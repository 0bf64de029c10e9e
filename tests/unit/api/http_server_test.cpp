#include "helix/api/http_server.h"

#include <functional>
#include <memory>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "fake_backend.h"
#include "helix/core/error.h"

namespace helix::api {
namespace {

using nlohmann::json;
using test::FakeBackend;

constexpr const char* kJson = "application/json";

// The data payloads of an SSE response, read as they arrive.
struct SseResult {
  int status = -1;
  std::string content_type;
  std::vector<std::string> data;
};

// Polls `condition` for up to 3 s.
bool eventually(const std::function<bool()>& condition) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

class HttpServerTest : public ::testing::Test {
 protected:
  void start(HttpServerOptions options = {}) {
    options.port = 0;
    server_ = std::make_unique<HttpServer>(backend_, options);
    port_ = server_->start();
  }

  httplib::Result post(const std::string& path, const std::string& body, const httplib::Headers& headers = {}) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(5);
    return client.Post(path.c_str(), headers, body, kJson);
  }
  httplib::Result get(const std::string& path, const httplib::Headers& headers = {}) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(5);
    return client.Get(path.c_str(), headers);
  }

  // POSTs and collects the SSE data payloads incrementally; `on_data` sees each.
  SseResult post_stream(const std::string& path, const std::string& body,
                        const std::function<void(const std::string&)>& on_data = {}) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(5);
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.body = body;
    req.set_header("Content-Type", kJson);
    SseResult result;
    std::string buffer;
    req.content_receiver = [&](const char* data, size_t size, std::uint64_t, std::uint64_t) {
      buffer.append(data, size);
      for (std::size_t end; (end = buffer.find("\n\n")) != std::string::npos; buffer.erase(0, end + 2)) {
        std::string frame = buffer.substr(0, end);
        result.data.push_back(frame.rfind("data: ", 0) == 0 ? frame.substr(6) : "<not a data frame: " + frame + ">");
        if (on_data) on_data(result.data.back());
      }
      return true;
    };
    httplib::Result res = client.send(req);
    if (res) {
      result.status = res->status;
      result.content_type = res->get_header_value("Content-Type");
    }
    if (!buffer.empty()) result.data.push_back("<trailing bytes: " + buffer + ">");
    return result;
  }

  std::string metrics() {
    httplib::Result res = get("/metrics");
    return res ? res->body : "";
  }
  bool metrics_contain(const std::string& line) {
    return eventually([&] { return metrics().find(line) != std::string::npos; });
  }

  static void expect_json_error(const httplib::Result& res, int status, const std::string& type,
                                const json& param = nullptr) {
    ASSERT_TRUE(res) << "no response";
    EXPECT_EQ(res->status, status) << res->body;
    EXPECT_EQ(res->get_header_value("Content-Type"), kJson);
    json body = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << res->body;
    EXPECT_EQ(body["error"]["type"], type) << res->body;
    EXPECT_EQ(body["error"]["param"], param) << res->body;
    EXPECT_TRUE(body["error"]["message"].is_string()) << res->body;
  }

  FakeBackend backend_;
  std::unique_ptr<HttpServer> server_;  // destroyed before the backend
  int port_ = 0;
};

const std::string kCompletion = R"({"model": "fake-model", "prompt": "Say hi", "max_tokens": 3})";
const std::string kChat = R"({"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]})";
const std::string kStreamCompletion = R"({"model": "fake-model", "prompt": "Say hi", "stream": true})";
const std::string kStreamChat =
    R"({"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "stream": true,
        "stream_options": {"include_usage": true}})";

TEST_F(HttpServerTest, NonStreamingCompletion) {
  start();
  httplib::Result res = post("/v1/completions", kCompletion);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), kJson);
  json body = json::parse(res->body);
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["id"].get<std::string>().rfind("cmpl-", 0), 0U) << body["id"];
  EXPECT_EQ(body["model"], "fake-model");
  EXPECT_EQ(body["choices"][0]["text"], "Hello world");
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["prompt_tokens"], 6);
  EXPECT_EQ(body["usage"]["completion_tokens"], 3);
  EXPECT_EQ(body["usage"]["total_tokens"], 9);
  GenerationRequest seen = backend_.last_request();
  EXPECT_EQ(seen.prompt, "Say hi");
  EXPECT_EQ(seen.max_tokens, 3);
  EXPECT_FALSE(seen.chat);
}

TEST_F(HttpServerTest, NonStreamingChat) {
  start();
  httplib::Result res = post("/v1/chat/completions", kChat);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json body = json::parse(res->body);
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["id"].get<std::string>().rfind("chatcmpl-", 0), 0U) << body["id"];
  EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(body["choices"][0]["message"]["content"], "Hello world");
  EXPECT_EQ(body["usage"]["completion_tokens"], 3);
  EXPECT_TRUE(backend_.last_request().chat);
  EXPECT_EQ(backend_.last_request().max_tokens, 256);
}

TEST_F(HttpServerTest, StreamingCompletion) {
  start();
  SseResult sse = post_stream("/v1/completions", kStreamCompletion);
  EXPECT_EQ(sse.status, 200);
  EXPECT_EQ(sse.content_type, "text/event-stream");
  ASSERT_EQ(sse.data.size(), 5U);  // 3 texts, the finish chunk, [DONE]
  std::string text;
  for (std::size_t i = 0; i < 3; ++i) {
    json chunk = json::parse(sse.data[i]);
    EXPECT_EQ(chunk["object"], "text_completion");
    EXPECT_TRUE(chunk["choices"][0]["finish_reason"].is_null());
    text += chunk["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, "Hello world");
  EXPECT_EQ(json::parse(sse.data[3])["choices"][0]["finish_reason"], "length");
  EXPECT_FALSE(json::parse(sse.data[3]).contains("usage"));  // not asked for
  EXPECT_EQ(sse.data[4], "[DONE]");
}

TEST_F(HttpServerTest, StreamingChatWithUsage) {
  start();
  SseResult sse = post_stream("/v1/chat/completions", kStreamChat);
  EXPECT_EQ(sse.status, 200);
  ASSERT_EQ(sse.data.size(), 7U);  // role, 3 texts, finish, usage, [DONE]
  json first = json::parse(sse.data[0]);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  for (std::size_t i = 1; i < 4; ++i)
    text += json::parse(sse.data[i])["choices"][0]["delta"]["content"].get<std::string>();
  EXPECT_EQ(text, "Hello world");
  EXPECT_EQ(json::parse(sse.data[4])["choices"][0]["finish_reason"], "length");
  json usage = json::parse(sse.data[5]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 3);
  EXPECT_EQ(sse.data[6], "[DONE]");
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(json::parse(sse.data[i])["id"], first["id"]);
}

// The backend holds its second token until the client has read the first: a
// server that buffered the response would time out the backend's wait.
TEST_F(HttpServerTest, StreamingReachesTheClientIncrementally) {
  backend_.gate_after_first = true;
  start();
  SseResult sse = post_stream("/v1/completions", kStreamCompletion, [&](const std::string& data) {
    if (data.find("\"Hel\"") != std::string::npos) backend_.release();
  });
  EXPECT_EQ(sse.status, 200);
  EXPECT_FALSE(backend_.wait_timed_out);
  ASSERT_FALSE(sse.data.empty());
  EXPECT_EQ(sse.data.back(), "[DONE]");
}

TEST_F(HttpServerTest, ApiKeyIsRequiredWhenSet) {
  start(
      HttpServerOptions{.host = "127.0.0.1", .port = 0, .api_key = "sekret", .max_body_bytes = 1 << 20, .threads = 8});
  expect_json_error(post("/v1/completions", kCompletion), 401, "authentication_error");
  expect_json_error(post("/v1/completions", kCompletion, {{"Authorization", "Bearer wrong"}}), 401,
                    "authentication_error");
  expect_json_error(post("/v1/completions", kCompletion, {{"Authorization", "sekret"}}), 401, "authentication_error");
  expect_json_error(get("/v1/models"), 401, "authentication_error");
  httplib::Result ok = post("/v1/completions", kCompletion, {{"Authorization", "Bearer sekret"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(backend_.submitted, 1);  // refused requests never reach the backend
  // Health and metrics stay open for probes and scrapers.
  EXPECT_EQ(get("/health")->status, 200);
  EXPECT_EQ(get("/metrics")->status, 200);
}

TEST_F(HttpServerTest, UnknownModelIs404) {
  start();
  expect_json_error(post("/v1/completions", R"({"model": "nope", "prompt": "x"})"), 404, "not_found_error", "model");
  expect_json_error(
      post("/v1/chat/completions", R"({"model": "nope", "messages": [{"role": "user", "content": "x"}]})"), 404,
      "not_found_error", "model");
  EXPECT_EQ(backend_.submitted, 0);
}

TEST_F(HttpServerTest, InvalidRequestsAre400NamingTheField) {
  start();
  httplib::Result malformed = post("/v1/completions", R"({"model": "fake-model", "prompt": )");
  expect_json_error(malformed, 400, "invalid_request_error");
  EXPECT_NE(malformed->body.find("not valid JSON"), std::string::npos) << malformed->body;
  expect_json_error(post("/v1/completions", R"({"model": "fake-model", "prompt": "x", "max_tokens": -4})"), 400,
                    "invalid_request_error", "max_tokens");
  expect_json_error(post("/v1/chat/completions", R"({"model": "fake-model", "messages": []})"), 400,
                    "invalid_request_error", "messages");
  EXPECT_EQ(backend_.submitted, 0);
}

TEST_F(HttpServerTest, OversizeBodyIs413) {
  start(HttpServerOptions{.host = "127.0.0.1", .port = 0, .api_key = "", .max_body_bytes = 1024, .threads = 8});
  std::string big = R"({"model": "fake-model", "prompt": ")" + std::string(4096, 'x') + "\"}";
  expect_json_error(post("/v1/completions", big), 413, "invalid_request_error");
  httplib::Result small = post("/v1/completions", kCompletion);
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200);
}

TEST_F(HttpServerTest, UnknownPathsAndWrongMethodsAreJsonErrors) {
  start();
  expect_json_error(get("/v2/nothing"), 404, "not_found_error");
  expect_json_error(post("/nothing", "{}"), 404, "not_found_error");
  httplib::Result wrong = get("/v1/completions");
  expect_json_error(wrong, 405, "invalid_request_error");
  EXPECT_EQ(wrong->get_header_value("Allow"), "POST");
  expect_json_error(post("/health", "{}"), 405, "invalid_request_error");
  httplib::Client client("127.0.0.1", port_);
  expect_json_error(client.Delete("/v1/chat/completions"), 405, "invalid_request_error");
}

TEST_F(HttpServerTest, BackendRefusalsAndFailuresAreJson) {
  start();
  backend_.refuse = ApiError{.status = 503, .type = "overloaded_error", .message = "no workers", .param = ""};
  expect_json_error(post("/v1/completions", kCompletion), 503, "overloaded_error");
  backend_.refuse.reset();
  backend_.explode = true;
  httplib::Result boom = post("/v1/completions", kCompletion);
  expect_json_error(boom, 500, "server_error");
  EXPECT_NE(boom->body.find("backend exploded"), std::string::npos) << boom->body;
  // The server survives and serves the next request.
  backend_.explode = false;
  EXPECT_EQ(post("/v1/completions", kCompletion)->status, 200);
}

TEST_F(HttpServerTest, ErrorEventsBecomeErrorResponses) {
  backend_.fail_after_text = ApiError{.status = 500, .type = "server_error", .message = "worker lost", .param = ""};
  start();
  expect_json_error(post("/v1/completions", kCompletion), 500, "server_error");
  SseResult sse = post_stream("/v1/completions", kStreamCompletion);
  EXPECT_EQ(sse.status, 200);
  ASSERT_EQ(sse.data.size(), 5U);  // 3 texts, the error, [DONE]
  json error = json::parse(sse.data[3]);
  EXPECT_EQ(error["error"]["message"], "worker lost");
  EXPECT_EQ(error["error"]["type"], "server_error");
  EXPECT_EQ(sse.data[4], "[DONE]");
}

TEST_F(HttpServerTest, ModelsList) {
  start();
  httplib::Result res = get("/v1/models");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  json body = json::parse(res->body);
  EXPECT_EQ(body["object"], "list");
  ASSERT_EQ(body["data"].size(), 2U);
  EXPECT_EQ(body["data"][0]["id"], "fake-model");
  EXPECT_EQ(body["data"][0]["object"], "model");
  EXPECT_EQ(body["data"][0]["owned_by"], "helix");
  EXPECT_TRUE(body["data"][0]["created"].is_number_integer());
  httplib::Result one = get("/v1/models/other-model");
  ASSERT_TRUE(one);
  EXPECT_EQ(json::parse(one->body)["id"], "other-model");
  expect_json_error(get("/v1/models/missing"), 404, "not_found_error", "model");
}

TEST_F(HttpServerTest, HealthFollowsTheBackend) {
  start();
  httplib::Result ok = get("/health");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(json::parse(ok->body), (json{{"status", "ok"}, {"workers", 2}}));
  backend_.is_healthy = false;
  httplib::Result down = get("/health");
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503);
  EXPECT_EQ(json::parse(down->body)["status"], "unavailable");
}

TEST_F(HttpServerTest, MetricsCountRequestsAndTokens) {
  start();
  ASSERT_EQ(post("/v1/completions", kCompletion)->status, 200);
  ASSERT_EQ(post_stream("/v1/completions", kStreamCompletion).status, 200);
  ASSERT_EQ(post("/v1/completions", "{")->status, 400);
  httplib::Result res = get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_TRUE(metrics_contain("helix_http_requests_total{endpoint=\"/v1/completions\",status=\"200\"} 2\n"));
  EXPECT_TRUE(metrics_contain("helix_http_requests_total{endpoint=\"/v1/completions\",status=\"400\"} 1\n"));
  std::string text = metrics();
  for (const char* line :
       {"# TYPE helix_http_requests_total counter\n", "helix_requests_finished_total{finish_reason=\"length\"} 2\n",
        "helix_prompt_tokens_total 12\n", "helix_generation_tokens_total 6\n",
        "# TYPE helix_time_to_first_token_seconds histogram\n", "helix_time_to_first_token_seconds_count 2\n",
        "helix_time_to_first_token_seconds_bucket{le=\"+Inf\"} 2\n",
        "helix_time_to_first_token_seconds_bucket{le=\"0.001\"} ",
        "helix_time_to_first_token_seconds_bucket{le=\"60\"} 2\n", "helix_inter_token_latency_seconds_count 4\n",
        "helix_requests_running 0\n", "fake_backend_up 1\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "\nin:\n" << text;
  }
}

// 64 streams open at once: the backend starts none of them before all 64 were
// submitted, so they can only all finish if the server serves them concurrently.
TEST_F(HttpServerTest, SixtyFourConcurrentStreamsAllComplete) {
  constexpr int kStreams = 64;
  backend_.hold_until_submitted = kStreams;
  start();
  std::atomic<int> complete{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kStreams; ++i) {
    clients.emplace_back([&] {
      SseResult sse = post_stream("/v1/completions", kStreamCompletion);
      if (sse.status == 200 && sse.data.size() == 5 && sse.data.back() == "[DONE]") ++complete;
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(complete, kStreams);
  EXPECT_EQ(backend_.submitted, kStreams);
  EXPECT_FALSE(backend_.wait_timed_out);
  EXPECT_TRUE(metrics_contain("helix_requests_finished_total{finish_reason=\"length\"} 64\n"));
}

// A raw connection to the server, for what httplib's client cannot send or do.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    timeval timeout{.tv_sec = 3, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool send(const std::string& bytes) {
    return connected_ && ::send(fd_, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size());
  }
  // Reads until `marker` was received, the peer closed, or 3 s passed.
  std::string read_until(const std::string& marker) {
    std::string received;
    char buffer[4096];
    while (received.find(marker) == std::string::npos) {
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      received.append(buffer, static_cast<std::size_t>(n));
    }
    return received;
  }

 private:
  int fd_;
  bool connected_ = false;
};

TEST_F(HttpServerTest, MalformedHttpIsAJsonError) {
  start();
  RawConnection connection(port_);
  ASSERT_TRUE(connection.send("BREW /health HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  std::string response = connection.read_until("}}");
  EXPECT_EQ(response.rfind("HTTP/1.1 400", 0), 0U) << response;
  EXPECT_NE(response.find("\"type\":\"invalid_request_error\""), std::string::npos) << response;
}

// Reads the first event of a stream and hangs up.
void read_first_event_and_close(int port, const std::string& body) {
  RawConnection connection(port);
  ASSERT_TRUE(
      connection.send("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                      "Content-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body));
  std::string received = connection.read_until("data: ");
  EXPECT_NE(received.find("200 OK"), std::string::npos) << received;
  EXPECT_NE(received.find("data: "), std::string::npos) << received;
}

TEST_F(HttpServerTest, ClientDisconnectCancelsTheGeneration) {
  backend_.endless = true;
  start();
  read_first_event_and_close(port_, kStreamCompletion);
  EXPECT_TRUE(eventually([&] { return backend_.cancels_seen == 1; }));
  EXPECT_TRUE(metrics_contain("helix_requests_finished_total{finish_reason=\"abort\"} 1\n"));
  EXPECT_TRUE(metrics_contain("helix_requests_running 0\n"));
  EXPECT_EQ(backend_.streams_ended, 1);
}

TEST_F(HttpServerTest, StopEndsOpenStreamsPromptly) {
  backend_.endless = true;
  start();
  std::thread client([&] { post_stream("/v1/completions", kStreamCompletion); });
  ASSERT_TRUE(eventually([&] { return backend_.submitted == 1; }));
  auto before = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(2));
  client.join();
  EXPECT_TRUE(eventually([&] { return backend_.cancels_seen == 1; }));
  server_->stop();  // idempotent
}

TEST_F(HttpServerTest, StartReportsABusyPort) {
  start();
  EXPECT_EQ(server_->port(), port_);
  HttpServer second(
      backend_,
      HttpServerOptions{.host = "127.0.0.1", .port = port_, .api_key = "", .max_body_bytes = 1024, .threads = 2});
  try {
    second.start();
    FAIL() << "expected the bind to fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port_)), std::string::npos) << e.what();
  }
  EXPECT_THROW(server_->start(), Error);  // already started
}

}  // namespace
}  // namespace helix::api
