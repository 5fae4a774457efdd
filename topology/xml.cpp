// XML reader (recursive descent with line tracking) and writer for NCCL topology files.
#include "topology/xml.hpp"

#include <cctype>
#include <cstdint>

#include "base/error.hpp"

namespace plexus::topo {

const std::string* XmlElement::attr(std::string_view key) const {
  for (const auto& [k, v] : attrs)
    if (k == key) return &v;
  return nullptr;
}

void XmlElement::set(std::string key, std::string value) {
  for (auto& [k, v] : attrs)
    if (k == key) {
      v = std::move(value);
      return;
    }
  attrs.emplace_back(std::move(key), std::move(value));
}

namespace {

constexpr int kMaxDepth = 256;

class Parser {
 public:
  Parser(std::string_view text, const std::string& origin) : t_(text), origin_(origin) {}

  XmlElement document() {
    skipMisc();
    if (atEnd()) fail("the file holds no XML element");
    if (!lookingAt("<")) fail("expected '<' to open the root element");
    XmlElement root = element(0);
    skipMisc();
    if (!atEnd()) fail("text after the root element </" + root.name + ">");
    return root;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throwError(ErrorCode::kInvalidArgument, "%s:%d: %s", origin_.c_str(), line_, what.c_str());
  }
  [[noreturn]] void failAt(int line, const std::string& what) const {
    throwError(ErrorCode::kInvalidArgument, "%s:%d: %s", origin_.c_str(), line, what.c_str());
  }
  bool atEnd() const { return pos_ >= t_.size(); }
  bool lookingAt(std::string_view s) const { return t_.substr(pos_, s.size()) == s; }
  char peek() const { return atEnd() ? '\0' : t_[pos_]; }
  void advance(size_t n = 1) {
    for (size_t i = 0; i < n && pos_ < t_.size(); ++i, ++pos_)
      if (t_[pos_] == '\n') ++line_;
  }
  void skipSpace() {
    while (!atEnd() && std::isspace(static_cast<unsigned char>(peek()))) advance();
  }
  void skipUntil(std::string_view end, const char* what) {
    const int start = line_;
    const size_t at = t_.find(end, pos_);
    if (at == std::string_view::npos) failAt(start, std::string("unterminated ") + what);
    advance(at + end.size() - pos_);
  }
  // Blank text, comments, declarations and processing instructions.
  void skipMisc() {
    for (;;) {
      skipSpace();
      if (lookingAt("<!--")) {
        skipUntil("-->", "comment");
      } else if (lookingAt("<?")) {
        skipUntil("?>", "<?...?> declaration");
      } else if (lookingAt("<!")) {
        fail("DOCTYPE and other <! > declarations are not supported");
      } else {
        return;
      }
    }
  }
  static bool nameStart(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  }
  static bool nameChar(char c) {
    return nameStart(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  }
  std::string name(const std::string& what) {
    if (!nameStart(peek())) fail("expected " + what + ", found " + describeHere());
    const size_t start = pos_;
    while (!atEnd() && nameChar(peek())) advance();
    return std::string(t_.substr(start, pos_ - start));
  }
  std::string describeHere() const {
    if (atEnd()) return "end of file";
    const char c = peek();
    if (std::isprint(static_cast<unsigned char>(c))) return std::string("'") + c + "'";
    return "byte " + std::to_string(static_cast<unsigned char>(c));
  }
  std::string decode(std::string_view raw, int line) const {
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '&') {
        out += raw[i];
        continue;
      }
      const size_t semi = raw.find(';', i);
      if (semi == std::string_view::npos) failAt(line, "'&' without ';' in attribute value");
      const std::string_view ent = raw.substr(i + 1, semi - i - 1);
      if (ent == "lt")
        out += '<';
      else if (ent == "gt")
        out += '>';
      else if (ent == "amp")
        out += '&';
      else if (ent == "quot")
        out += '"';
      else if (ent == "apos")
        out += '\'';
      else if (!ent.empty() && ent[0] == '#') {
        uint32_t cp = 0;
        const bool hex = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X');
        const std::string_view digits = ent.substr(hex ? 2 : 1);
        if (digits.empty() || digits.size() > 8) failAt(line, "bad character reference");
        for (char c : digits) {
          const int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                        : hex && std::isxdigit(static_cast<unsigned char>(c))
                            ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                            : -1;
          if (d < 0) failAt(line, "bad character reference &" + std::string(ent) + ";");
          cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(d);
        }
        if (cp == 0 || cp > 0x10FFFF) failAt(line, "character reference out of range");
        // UTF-8 encode.
        if (cp < 0x80) {
          out += static_cast<char>(cp);
        } else if (cp < 0x800) {
          out += static_cast<char>(0xC0 | (cp >> 6));
          out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
          out += static_cast<char>(0xE0 | (cp >> 12));
          out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
          out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
          out += static_cast<char>(0xF0 | (cp >> 18));
          out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
          out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
          out += static_cast<char>(0x80 | (cp & 0x3F));
        }
      } else {
        failAt(line, "unknown entity &" + std::string(ent) + ";");
      }
      i = semi;
    }
    return out;
  }

  XmlElement element(int depth) {
    if (depth > kMaxDepth) fail("elements nested deeper than 256 levels");
    XmlElement el;
    el.line = line_;
    advance();  // '<'
    el.name = name("an element name after '<'");
    for (;;) {
      const size_t before = pos_;
      skipSpace();
      if (lookingAt("/>")) {
        advance(2);
        return el;
      }
      if (lookingAt(">")) {
        advance();
        break;
      }
      if (atEnd()) failAt(el.line, "element <" + el.name + "> is not closed (end of file)");
      if (pos_ == before)
        fail("expected whitespace, '>' or '/>' in <" + el.name + ">, found " + describeHere());
      const int attrLine = line_;
      std::string key = name("an attribute name in <" + el.name + ">");
      skipSpace();
      if (peek() != '=')
        fail("attribute '" + key + "' of <" + el.name + "> has no '=' (found " + describeHere() +
             ")");
      advance();
      skipSpace();
      const char q = peek();
      if (q != '"' && q != '\'')
        fail("value of attribute '" + key + "' of <" + el.name + "> must be quoted");
      advance();
      const size_t start = pos_;
      while (!atEnd() && peek() != q) {
        if (peek() == '<') fail("'<' inside the value of attribute '" + key + "'");
        advance();
      }
      if (atEnd()) failAt(attrLine, "value of attribute '" + key + "' is not closed");
      const std::string value = decode(t_.substr(start, pos_ - start), attrLine);
      advance();  // closing quote
      if (el.attr(key)) failAt(attrLine, "attribute '" + key + "' repeated in <" + el.name + ">");
      el.attrs.emplace_back(std::move(key), value);
    }
    // Content: child elements, comments, blank text.
    for (;;) {
      const size_t textStart = pos_;
      const int textLine = line_;
      while (!atEnd() && peek() != '<') advance();
      for (size_t i = textStart; i < pos_; ++i)
        if (!std::isspace(static_cast<unsigned char>(t_[i])))
          failAt(textLine, "unexpected text inside <" + el.name + ">");
      if (atEnd()) failAt(el.line, "element <" + el.name + "> is not closed (end of file)");
      if (lookingAt("<!--")) {
        skipUntil("-->", "comment");
      } else if (lookingAt("<?")) {
        skipUntil("?>", "processing instruction");
      } else if (lookingAt("<![CDATA[")) {
        fail("CDATA sections are not supported");
      } else if (lookingAt("</")) {
        advance(2);
        const std::string closing = name("an element name after '</'");
        if (closing != el.name)
          fail("closing tag </" + closing + "> does not match <" + el.name + "> opened on line " +
               std::to_string(el.line));
        skipSpace();
        if (peek() != '>') fail("expected '>' after </" + closing);
        advance();
        return el;
      } else {
        el.children.push_back(element(depth + 1));
      }
    }
  }

  std::string_view t_;
  const std::string& origin_;
  size_t pos_ = 0;
  int line_ = 1;
};

void escapeInto(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
}

void writeElement(std::string& out, const XmlElement& el, int depth) {
  out.append(static_cast<size_t>(depth) * 2, ' ');
  out += '<';
  out += el.name;
  for (const auto& [k, v] : el.attrs) {
    out += ' ';
    out += k;
    out += "=\"";
    escapeInto(out, v);
    out += '"';
  }
  if (el.children.empty()) {
    out += "/>\n";
    return;
  }
  out += ">\n";
  for (const XmlElement& c : el.children) writeElement(out, c, depth + 1);
  out.append(static_cast<size_t>(depth) * 2, ' ');
  out += "</" + el.name + ">\n";
}

}  // namespace

XmlElement parseXml(std::string_view text, const std::string& origin) {
  Parser p(text, origin);
  return p.document();
}

std::string writeXml(const XmlElement& root) {
  std::string out;
  writeElement(out, root, 0);
  return out;
}

}  // namespace plexus::topo
