// The NCCL XML element tree read and written with pugixml: pugixml's document → XmlElement with
// line numbers, pugixml's parse errors → "origin:LINE: what", and XmlElement → text.
#include "topology/xml_tree.hpp"

#include <algorithm>
#include <pugixml.hpp>

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

// Elements, their attributes and text; comments, <?...?> and the declaration are skipped. No
// parse_eol or parse_wconv_attribute: attribute values keep their bytes. parse_fragment keeps
// text outside the root element and parse_doctype the DOCTYPE, so that both can be rejected.
constexpr unsigned kParseOptions =
    pugi::parse_cdata | pugi::parse_escapes | pugi::parse_doctype | pugi::parse_fragment;

// Line numbers of byte offsets into the parsed text.
class LineIndex {
 public:
  explicit LineIndex(std::string_view text) : size_(text.size()) {
    for (size_t i = 0; i < text.size(); ++i)
      if (text[i] == '\n') newlines_.push_back(i);
  }
  int lineAt(ptrdiff_t offset) const {
    const size_t at = offset < 0 ? 0 : std::min(static_cast<size_t>(offset), size_);
    const auto before = std::lower_bound(newlines_.begin(), newlines_.end(), at);
    return static_cast<int>(before - newlines_.begin()) + 1;
  }

 private:
  size_t size_;
  std::vector<size_t> newlines_;
};

class TreeReader {
 public:
  TreeReader(std::string_view text, const std::string& origin)
      : text_(text), origin_(origin), lines_(text) {}

  XmlElement document() {
    const pugi::xml_parse_result result =
        doc_.load_buffer(text_.data(), text_.size(), kParseOptions, pugi::encoding_utf8);
    if (!result) fail(result.offset, parseError(result));
    pugi::xml_node root;
    for (pugi::xml_node n : doc_.children()) {
      if (n.type() == pugi::node_doctype) fail(n, "DOCTYPE declarations are not supported");
      if (n.type() == pugi::node_pcdata || n.type() == pugi::node_cdata)
        fail(n, "text outside the root element");
      if (n.type() != pugi::node_element) continue;
      if (root)
        fail(n, std::string("a second root element <") + n.name() + "> after <" + root.name() +
                    "> (the file must hold one root element)");
      root = n;
    }
    if (!root) fail(static_cast<ptrdiff_t>(text_.size()), "the file holds no XML element");
    return element(root, 0);
  }

 private:
  [[noreturn]] void fail(ptrdiff_t offset, const std::string& what) const {
    throwError(ErrorCode::kInvalidArgument, "%s:%d: %s", origin_.c_str(), lines_.lineAt(offset),
               what.c_str());
  }
  // Text nodes start with the blanks before the text: the line is the one of the first other byte.
  [[noreturn]] void fail(pugi::xml_node n, const std::string& what) const {
    ptrdiff_t offset = n.offset_debug();
    if (n.type() == pugi::node_pcdata)
      for (const char* v = n.value(); *v == ' ' || *v == '\t' || *v == '\n' || *v == '\r'; ++v)
        ++offset;
    fail(offset, what);
  }

  XmlElement element(pugi::xml_node n, int depth) const {
    if (depth > kMaxDepth) fail(n, "elements nested deeper than 256 levels");
    XmlElement el;
    el.name = n.name();
    el.line = lines_.lineAt(n.offset_debug());
    for (pugi::xml_attribute a : n.attributes()) {
      if (el.attr(a.name()))
        fail(n, std::string("attribute '") + a.name() + "' repeated in <" + el.name + ">");
      el.attrs.emplace_back(a.name(), a.value());
    }
    for (pugi::xml_node c : n.children()) {
      if (c.type() == pugi::node_element) {
        el.children.push_back(element(c, depth + 1));
      } else if (c.type() == pugi::node_cdata) {
        fail(c, "CDATA sections are not supported (in <" + el.name + ">)");
      } else if (c.type() == pugi::node_pcdata) {
        fail(c, "unexpected text inside <" + el.name + ">");
      }
    }
    return el;
  }

  // The element opened last: pugixml has created it when an error stops the parse.
  std::string lastOpened() const {
    pugi::xml_node last;
    for (pugi::xml_node n = doc_.last_child(); n; n = n.last_child())
      if (n.type() == pugi::node_element) last = n;
    if (!last) return "";
    return std::string("<") + last.name() + "> on line " +
           std::to_string(lines_.lineAt(last.offset_debug()));
  }
  std::string inLastOpened() const {
    const std::string last = lastOpened();
    return last.empty() ? "" : " (in " + last + ")";
  }
  // pugixml reports a mismatch at the name of the closing tag, or at the last byte when the file
  // ends with elements open.
  bool closingTagAt(ptrdiff_t offset) const {
    return offset >= 2 && static_cast<size_t>(offset) <= text_.size() &&
           text_.substr(static_cast<size_t>(offset) - 2, 2) == "</";
  }
  // The name of a closing tag at `offset` (where pugixml reports a mismatch), for the message.
  std::string closingNameAt(ptrdiff_t offset) const {
    std::string name;
    for (size_t i = static_cast<size_t>(offset); i < text_.size() && name.size() < 64; ++i) {
      const char c = text_[i];
      if (c == '>' || c == '/' || c == '<' || c == ' ' || c == '\t' || c == '\n' || c == '\r')
        break;
      name += c;
    }
    return name;
  }

  std::string parseError(const pugi::xml_parse_result& r) const {
    switch (r.status) {
      case pugi::status_end_element_mismatch: {
        const std::string last = lastOpened();
        if (!closingTagAt(r.offset))
          return "the file ends before every element is closed (the last element opened is " +
                 last + ")";
        return "closing tag </" + closingNameAt(r.offset) +
               "> does not match the element open there (the last element opened is " + last + ")";
      }
      case pugi::status_bad_attribute:
        return "malformed attribute" + inLastOpened() +
               ": expected name=\"value\" (the value must be quoted, '<' is not allowed in it)";
      case pugi::status_bad_start_element:
        return "malformed start tag" + inLastOpened() + ": expected attributes, '>' or '/>'";
      case pugi::status_unrecognized_tag:
        return "'<' is not followed by an element name, '/', '!--' or '?'";
      case pugi::status_bad_end_element:
        return "malformed closing tag" + inLastOpened();
      case pugi::status_bad_comment:
        return "unterminated or malformed comment (<!-- ... -->)";
      case pugi::status_bad_pi:
        return "malformed <?...?> declaration or processing instruction";
      case pugi::status_bad_cdata:
        return "malformed CDATA section";
      case pugi::status_bad_doctype:
        return "malformed DOCTYPE declaration";
      case pugi::status_bad_pcdata:
        return "malformed text" + inLastOpened();
      default:
        return std::string("cannot parse the XML: ") + r.description();
    }
  }

  std::string_view text_;
  const std::string& origin_;
  LineIndex lines_;
  pugi::xml_document doc_;
};

void addElement(pugi::xml_node parent, const XmlElement& el) {
  pugi::xml_node n = parent.append_child(el.name.c_str());
  for (const auto& [k, v] : el.attrs) n.append_attribute(k.c_str()).set_value(v.c_str());
  for (const XmlElement& c : el.children) addElement(n, c);
}

struct StringWriter : pugi::xml_writer {
  std::string out;
  void write(const void* data, size_t size) override {
    out.append(static_cast<const char*>(data), size);
  }
};

// pugixml closes an empty element with " />"; NCCL's dumps (and so the files users compare
// against) write "/>". In indented output " />" followed by a newline ends an empty element and
// nothing else: attribute values have their newlines escaped.
std::string closeEmptyElementsLikeNccl(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  size_t from = 0;
  for (size_t at; (at = text.find(" />\n", from)) != std::string::npos; from = at + 4) {
    out.append(text, from, at - from);
    out += "/>\n";
  }
  out.append(text, from, std::string::npos);
  return out;
}

}  // namespace

XmlElement parseXml(std::string_view text, const std::string& origin) {
  TreeReader reader(text, origin);
  return reader.document();
}

std::string writeXml(const XmlElement& root) {
  pugi::xml_document doc;
  addElement(doc, root);
  StringWriter w;
  doc.save(w, "  ", pugi::format_indent | pugi::format_no_declaration, pugi::encoding_utf8);
  return closeEmptyElementsLikeNccl(w.out);
}

}  // namespace plexus::topo
