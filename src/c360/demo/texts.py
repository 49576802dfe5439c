"""Text the generator writes: streets, reviews, ticket subjects, browsers and apps, campaign names."""

from __future__ import annotations

from typing import Final

SHOP_URL: Final = "https://senvang.c360demo.vn"
APP_NAME: Final = "Sen Vàng"
APP_NAMESPACE: Final = "vn.c360demo.senvang"

# fmt: off
STREETS: Final = (
    "Lê Lợi", "Nguyễn Huệ", "Trần Hưng Đạo", "Hai Bà Trưng", "Lý Thường Kiệt", "Nguyễn Trãi", "Lê Duẩn",
    "Điện Biên Phủ", "Cách Mạng Tháng Tám", "Nguyễn Văn Cừ", "Phan Đình Phùng", "Quang Trung", "Trần Phú",
    "Hùng Vương", "Lê Lai", "Nguyễn Thị Minh Khai", "Võ Văn Tần", "Pasteur", "Bà Triệu", "Nguyễn Du",
    "Lạc Long Quân", "Âu Cơ", "Phạm Văn Đồng", "Võ Nguyên Giáp", "Tôn Đức Thắng", "Nguyễn Văn Linh",
    "Lê Văn Sỹ", "Hoàng Văn Thụ", "Trường Chinh", "Cộng Hòa", "Ngô Quyền", "Lý Tự Trọng", "Phan Chu Trinh",
)
WARD_KINDS: Final = ("Phường",)

PAYMENT_ONLINE: Final = (("cod", 38.0), ("momo", 16.0), ("card", 14.0), ("vnpay", 12.0), ("zalopay", 8.0),
                         ("bank_transfer", 12.0))
PAYMENT_POS: Final = (("cash", 45.0), ("card", 15.0), ("momo", 12.0), ("zalopay", 6.0), ("vnpay", 10.0),
                      ("bank_transfer", 12.0))

WALK_IN_NAMES: Final = ("Khách lẻ", "Khách lẻ", "KHÁCH LẺ", "Khach le", "")

# Reviews by sentiment; a survey's review is drawn from the pool that matches its rating.
REVIEWS_POSITIVE: Final = (
    "Sản phẩm rất đẹp, đúng như mô tả.",
    "Giao hàng nhanh, đóng gói cẩn thận.",
    "Chất vải mát, mặc rất thoải mái.",
    "Son lên màu chuẩn, giữ màu lâu.",
    "Kem dưỡng thấm nhanh, da mềm hơn hẳn.",
    "Nhân viên tư vấn nhiệt tình, sẽ quay lại.",
    "Hàng chính hãng, giá hợp lý.",
    "Mua lần thứ ba rồi, vẫn rất hài lòng.",
    "Size chuẩn, form đẹp.",
    "Mùi hương dễ chịu, rất thích.",
    "Shop chăm sóc khách hàng tốt.",
    "Tuyệt vời, 10 điểm!",
)
REVIEWS_NEUTRAL: Final = (
    "Sản phẩm tạm ổn, giao hơi chậm.",
    "Chất lượng được, giá hơi cao.",
    "Màu hơi khác so với hình.",
    "Bình thường, không có gì đặc biệt.",
    "Đóng gói ổn nhưng giao hàng lâu.",
    "Dùng được, chưa thấy hiệu quả rõ.",
    "Form hơi rộng so với size.",
)
REVIEWS_NEGATIVE: Final = (
    "Giao sai màu, đổi trả rất mất thời gian.",
    "Hàng bị lỗi đường may, thất vọng.",
    "Giao hàng quá chậm, nhắn tin không ai trả lời.",
    "Da bị kích ứng sau khi dùng.",
    "Chất lượng kém so với giá tiền.",
    "Sản phẩm không giống mô tả.",
    "Nhân viên thái độ không tốt.",
    "Đơn hàng bị hủy mà không báo trước.",
)

SUPPORT_CHANNELS: Final = (("hotline", 30.0), ("zalo", 22.0), ("facebook", 15.0), ("email", 13.0),
                           ("web_form", 10.0), ("store", 10.0))
#: (category, weight, subject templates); {order} is an order id, {product} a product name.
SUPPORT_TOPICS: Final = (
    ("delivery", 30.0, ("Đơn hàng {order} chưa được giao", "Hỏi tình trạng giao hàng đơn {order}",
                        "Giao hàng trễ hẹn đơn {order}")),
    ("return", 22.0, ("Yêu cầu đổi size đơn {order}", "Muốn trả hàng đơn {order}",
                      "Sản phẩm bị lỗi, cần đổi: {product}")),
    ("payment", 12.0, ("Đã thanh toán nhưng đơn {order} chưa xác nhận", "Bị trừ tiền hai lần đơn {order}",
                       "Không thanh toán được bằng MoMo")),
    ("product", 16.0, ("Hỏi thành phần sản phẩm {product}", "Tư vấn chọn size {product}",
                       "Sản phẩm {product} có hàng lại chưa?")),
    ("promotion", 8.0, ("Không áp dụng được mã giảm giá", "Hỏi chương trình khuyến mãi 11.11",
                        "Mã freeship báo hết hạn")),
    ("loyalty", 7.0, ("Chưa được cộng điểm đơn {order}", "Hỏi cách đổi điểm tích lũy", "Hạng thành viên bị hạ")),
    ("account", 5.0, ("Quên mật khẩu tài khoản", "Không nhận được mã OTP", "Muốn đổi số điện thoại tài khoản")),
)
SUPPORT_STATUSES_OLD: Final = (("closed", 70.0), ("resolved", 25.0), ("pending", 5.0))
SUPPORT_STATUSES_RECENT: Final = (("open", 35.0), ("pending", 30.0), ("resolved", 25.0), ("closed", 10.0))

# Browsers seen on a Vietnamese shop: many phones, Cốc Cốc on desktops, in-app browsers of Zalo and Facebook.
WEB_AGENTS: Final = (
    (24.0, True, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Mobile/15E148 Safari/604.1"),
    (8.0, True, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Mobile/15E148 Safari/604.1"),
    (14.0, True, "Mozilla/5.0 (Linux; Android 14; SM-A556E) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Mobile Safari/537.36"),
    (6.0, True, "Mozilla/5.0 (Linux; Android 13; CPH2591) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Mobile Safari/537.36"),
    (5.0, True, "Mozilla/5.0 (Linux; Android 14; 23129RAA4G) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/125.0.0.0 Mobile Safari/537.36"),
    (6.0, True, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Mobile/15E148 Zalo iOS/470 ZaloTheme/light ZaloLanguage/vn"),
    (5.0, True, "Mozilla/5.0 (Linux; Android 13; SM-A145F Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
     "(KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/462.0.0.43.112;]"),
    (12.0, False, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Safari/537.36"),
    (7.0, False, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "coc_coc_browser/126.0.224 Chrome/120.0.6099.234 Safari/537.36"),
    (6.0, False, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Safari/605.1.15"),
    (3.0, False, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0"),
    (2.0, False, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0"),
)
ANALYTICS_JS: Final = {"name": "analytics.js", "version": "next-1.72.0"}

_IOS_AGENT: Final = "SenVang/5.3.1 (vn.c360demo.senvang; build:531; iOS {os}) Alamofire/5.9.1"
_ANDROID_AGENT: Final = "Dalvik/2.1.0 (Linux; U; Android {os}; {model} Build/{build})"
#: (weight, manufacturer, model, os name, os version, device type, user agent)
APP_DEVICES: Final = (
    (30.0, "Apple", "iPhone15,2", "iOS", "17.5.1", "ios", _IOS_AGENT.format(os="17.5.1")),
    (14.0, "Apple", "iPhone14,5", "iOS", "17.4", "ios", _IOS_AGENT.format(os="17.4.0")),
    (20.0, "samsung", "SM-A556E", "Android", "14", "android",
     _ANDROID_AGENT.format(os="14", model="SM-A556E", build="UP1A.231005.007")),
    (12.0, "OPPO", "CPH2591", "Android", "13", "android",
     _ANDROID_AGENT.format(os="13", model="CPH2591", build="TP1A.220905.001")),
    (10.0, "Xiaomi", "23129RAA4G", "Android", "14", "android",
     _ANDROID_AGENT.format(os="14", model="23129RAA4G", build="UKQ1.231003.002")),
    (8.0, "vivo", "V2254", "Android", "13", "android",
     _ANDROID_AGENT.format(os="13", model="V2254", build="TP1A.220624.014")),
    (6.0, "realme", "RMX3710", "Android", "14", "android",
     _ANDROID_AGENT.format(os="14", model="RMX3710", build="UKQ1.230924.001")),
)
APP_LIBRARY: Final = {"ios": {"name": "analytics-ios", "version": "4.1.8"},
                      "android": {"name": "analytics-android", "version": "4.11.3"}}
SERVER_LIBRARY: Final = {"name": "analytics-python", "version": "2.3.3"}

#: First two octets of address blocks of Vietnamese access providers (Viettel, VNPT, FPT, Mobifone).
IP_PREFIXES: Final = ("113.161", "113.185", "171.224", "171.250", "116.110", "27.72", "14.161", "14.232",
                      "123.20", "113.22", "42.114", "42.118", "1.53", "1.54", "118.69", "115.79", "183.80")

# fmt: on
REFERRERS: Final = (
    "",
    "",
    "",
    "https://www.google.com/",
    "https://www.google.com.vn/",
    "https://m.facebook.com/",
    "https://l.facebook.com/",
    "https://www.tiktok.com/",
    "https://zalo.me/",
    "https://coccoc.com/",
)
#: (utm_source, utm_medium)
UTM_SOURCES: Final = (
    ("google", "cpc"),
    ("facebook", "paid_social"),
    ("tiktok", "paid_social"),
    ("zalo", "social"),
    ("email", "email"),
    ("coccoc", "cpc"),
    ("accesstrade", "affiliate"),
)
EVERGREEN_CAMPAIGNS: Final = ("new-arrivals", "retargeting-cart", "brand-search", "best-sellers", "freeship")
SEARCH_TERMS: Final = (
    "son kem lì",
    "áo thun",
    "kem chống nắng",
    "đầm maxi",
    "serum vitamin c",
    "túi tote",
    "giày sneaker",
    "nước hoa",
    "quần jeans",
    "sữa rửa mặt",
)
