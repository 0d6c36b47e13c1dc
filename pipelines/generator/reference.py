"""Static reference data for the sample generator: Korean names, places, catalogue.

All values are romanised; weights are rough population shares, not statistics.
"""

from __future__ import annotations

# (surname, weight, romanisation variants a clerk may type instead)
SURNAMES: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("Kim", 21.5, ("Gim", "Kym")),
    ("Lee", 14.7, ("Yi", "Rhee", "Ree")),
    ("Park", 8.4, ("Pak", "Bak")),
    ("Choi", 4.7, ("Choe", "Choy")),
    ("Jung", 4.4, ("Jeong", "Chung")),
    ("Kang", 2.3, ("Gang",)),
    ("Cho", 2.1, ("Jo",)),
    ("Yoon", 2.1, ("Yun",)),
    ("Jang", 1.9, ("Chang",)),
    ("Lim", 1.7, ("Im", "Rim")),
    ("Han", 1.5, ("Hahn",)),
    ("Oh", 1.5, ("O",)),
    ("Seo", 1.5, ("Suh",)),
    ("Shin", 1.5, ("Sin",)),
    ("Kwon", 1.4, ("Gwon",)),
    ("Hwang", 1.4, ("Whang",)),
    ("Ahn", 1.3, ("An",)),
    ("Song", 1.3, ("Soung",)),
    ("Jeon", 1.2, ("Chun", "Jun")),
    ("Hong", 1.1, ("Houng",)),
    ("Yoo", 1.1, ("Yu", "Ryu")),
    ("Ko", 0.9, ("Go", "Koh")),
    ("Moon", 0.9, ("Mun",)),
    ("Yang", 0.9, ("Yaung",)),
    ("Son", 0.9, ("Sohn",)),
    ("Bae", 0.8, ("Pae",)),
    ("Baek", 0.8, ("Paik", "Back")),
    ("Heo", 0.6, ("Hur", "Huh")),
    ("Nam", 0.5, ("Nahm",)),
    ("Noh", 0.5, ("Roh", "No")),
)

FIRST_NAMES_M: tuple[str, ...] = (
    "Minjun", "Seojun", "Doyun", "Yejun", "Siwoo", "Hajun", "Jiho", "Juwon", "Jihoon", "Junseo",
    "Hyunwoo", "Geonwoo", "Woojin", "Sunwoo", "Minjae", "Hyunjun", "Eunwoo", "Jungwoo",
    "Seungwoo", "Youngho", "Sungmin", "Dongwook", "Jaehyun", "Sanghoon", "Kyungsoo", "Taeyang",
    "Jinwoo", "Yongsu", "Byungchul", "Donghyun",
)  # fmt: skip

FIRST_NAMES_F: tuple[str, ...] = (
    "Seoyeon", "Seoyun", "Jiwoo", "Seohyun", "Minseo", "Hayoon", "Hayeon", "Jiyu", "Chaewon",
    "Subin", "Jiyoon", "Eunseo", "Yuna", "Minji", "Soyeon", "Jiyeon", "Hyejin", "Eunji", "Sujin",
    "Youngmi", "Mikyung", "Jihye", "Yerin", "Dahye", "Sora", "Hyunjoo", "Eunjung", "Kyunghee",
    "Misook", "Jungeun",
)  # fmt: skip

# (domain, weight); gmail.com gets the dot-variant noise.
EMAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("naver.com", 40.0),
    ("gmail.com", 25.0),
    ("daum.net", 12.0),
    ("hanmail.net", 8.0),
    ("kakao.com", 5.0),
    ("nate.com", 5.0),
    ("hotmail.com", 3.0),
    ("yahoo.co.kr", 2.0),
)
GMAIL_INDEX = 1

# Company domains: work e-mail addresses (unlinkable records) and generic shared addresses.
COMPANY_DOMAINS: tuple[str, ...] = (
    "hanbit-trading.co.kr", "daesung-corp.co.kr", "mirae-soft.co.kr", "seoul-logis.co.kr",
    "nuri-tech.co.kr", "haneul-design.co.kr", "gangnam-clinic.co.kr", "bomnal-food.co.kr",
    "company.co.kr", "example.co.kr",
)  # fmt: skip
GENERIC_LOCAL_PARTS: tuple[str, ...] = ("info", "office", "admin", "contact", "sales", "help")

# (region, city, district, postal_lo, postal_hi, weight)
PLACES: tuple[tuple[str, str, str, int, int, float], ...] = (
    ("Seoul", "Seoul", "Gangnam-gu", 6000, 6399, 5.4),
    ("Seoul", "Seoul", "Seocho-gu", 6500, 6999, 4.1),
    ("Seoul", "Seoul", "Songpa-gu", 5500, 5899, 6.5),
    ("Seoul", "Seoul", "Mapo-gu", 3900, 4199, 3.7),
    ("Seoul", "Seoul", "Jongno-gu", 3000, 3199, 1.4),
    ("Seoul", "Seoul", "Yongsan-gu", 4300, 4499, 2.2),
    ("Seoul", "Seoul", "Nowon-gu", 1600, 1899, 5.0),
    ("Seoul", "Seoul", "Gwanak-gu", 8700, 8899, 4.9),
    ("Seoul", "Seoul", "Yeongdeungpo-gu", 7200, 7499, 3.8),
    ("Busan", "Busan", "Haeundae-gu", 48000, 48199, 3.9),
    ("Busan", "Busan", "Busanjin-gu", 47100, 47399, 3.6),
    ("Busan", "Busan", "Suyeong-gu", 48200, 48299, 1.7),
    ("Busan", "Busan", "Saha-gu", 49300, 49499, 3.0),
    ("Incheon", "Incheon", "Yeonsu-gu", 21900, 22099, 3.8),
    ("Incheon", "Incheon", "Namdong-gu", 21500, 21799, 5.0),
    ("Incheon", "Incheon", "Bupyeong-gu", 21300, 21499, 4.9),
    ("Daegu", "Daegu", "Suseong-gu", 42000, 42299, 4.0),
    ("Daegu", "Daegu", "Dalseo-gu", 42600, 42899, 5.3),
    ("Daejeon", "Daejeon", "Yuseong-gu", 34000, 34299, 3.5),
    ("Daejeon", "Daejeon", "Seo-gu", 35200, 35399, 4.7),
    ("Gwangju", "Gwangju", "Buk-gu", 61000, 61299, 4.2),
    ("Gwangju", "Gwangju", "Gwangsan-gu", 62200, 62499, 4.0),
    ("Ulsan", "Ulsan", "Nam-gu", 44600, 44799, 3.1),
    ("Gyeonggi-do", "Suwon-si", "Yeongtong-gu", 16400, 16599, 3.6),
    ("Gyeonggi-do", "Suwon-si", "Paldal-gu", 16200, 16399, 1.8),
    ("Gyeonggi-do", "Seongnam-si", "Bundang-gu", 13400, 13699, 4.8),
    ("Gyeonggi-do", "Goyang-si", "Ilsandong-gu", 10300, 10499, 3.0),
    ("Gyeonggi-do", "Yongin-si", "Suji-gu", 16800, 16999, 3.8),
    ("Gyeonggi-do", "Hwaseong-si", "Dongtan-dong", 18400, 18599, 4.0),
    ("Gangwon-do", "Chuncheon-si", "Hyoja-dong", 24300, 24499, 2.8),
    ("Gangwon-do", "Wonju-si", "Dangu-dong", 26400, 26599, 3.6),
    ("Chungcheongbuk-do", "Cheongju-si", "Heungdeok-gu", 28400, 28599, 2.6),
    ("Gyeongsangnam-do", "Changwon-si", "Seongsan-gu", 51400, 51599, 2.5),
    ("Gyeongsangnam-do", "Gimhae-si", "Naeoe-dong", 50900, 51099, 2.9),
    ("Jeollabuk-do", "Jeonju-si", "Wansan-gu", 54900, 55199, 3.2),
    ("Jeju-do", "Jeju-si", "Ido-dong", 63100, 63299, 2.2),
    ("Jeju-do", "Seogwipo-si", "Seogwi-dong", 63500, 63599, 0.9),
)

# department -> (popularity weight, {category: (median price KRW, typical max quantity, nouns)})
DEPARTMENTS: tuple[tuple[str, float, tuple[tuple[str, int, int, tuple[str, ...]], ...]], ...] = (
    (
        "Fashion",
        1.3,
        (
            (
                "Women's Apparel",
                59000,
                2,
                ("Knit Cardigan", "Wool Coat", "Linen Blouse", "Pleated Skirt"),
            ),
            ("Men's Apparel", 65000, 2, ("Oxford Shirt", "Chino Pants", "Padded Jacket", "Hoodie")),
            (
                "Shoes",
                89000,
                1,
                ("Running Shoes", "Leather Loafers", "Canvas Sneakers", "Ankle Boots"),
            ),
            (
                "Bags & Accessories",
                120000,
                1,
                ("Tote Bag", "Leather Wallet", "Silk Scarf", "Backpack"),
            ),
        ),
    ),
    (
        "Beauty",
        1.2,
        (
            ("Skincare", 35000, 3, ("Essence Toner", "Sheet Mask Set", "Sun Cream", "Cica Cream")),
            ("Makeup", 25000, 3, ("Cushion Foundation", "Lip Tint", "Eye Palette", "Brow Pencil")),
            ("Fragrance", 85000, 1, ("Eau de Parfum", "Body Mist", "Hand Cream Set", "Diffuser")),
        ),
    ),
    (
        "Food",
        1.6,
        (
            (
                "Fresh Food",
                15000,
                4,
                ("Hanwoo Beef Set", "Jeju Tangerines", "Kimchi 5kg", "Abalone Pack"),
            ),
            (
                "Snacks & Beverages",
                8000,
                5,
                ("Barley Tea", "Rice Crackers", "Cold Brew Coffee", "Honey Citron Tea"),
            ),
            (
                "Health Supplements",
                45000,
                2,
                ("Red Ginseng Extract", "Probiotics", "Omega-3", "Vitamin C"),
            ),
        ),
    ),
    (
        "Home & Living",
        0.9,
        (
            (
                "Kitchen",
                35000,
                2,
                ("Stone Pot", "Knife Set", "Rice Cooker Liner", "Glass Containers"),
            ),
            (
                "Bedding",
                89000,
                1,
                ("Duvet Cover", "Memory Pillow", "Cooling Mat", "Cotton Blanket"),
            ),
            (
                "Furniture & Decor",
                250000,
                1,
                ("Low Table", "Floor Lamp", "Bookshelf", "Wall Clock"),
            ),
        ),
    ),
    (
        "Electronics",
        0.6,
        (
            (
                "Mobile & Accessories",
                29000,
                2,
                ("Fast Charger", "Phone Case", "Wireless Earbuds", "Power Bank"),
            ),
            (
                "Home Appliances",
                390000,
                1,
                ("Air Purifier", "Robot Vacuum", "Kimchi Fridge", "Dehumidifier"),
            ),
            (
                "Computers",
                990000,
                1,
                ("Laptop 14", "Tablet 11", "Monitor 27", "Mechanical Keyboard"),
            ),
        ),
    ),
    (
        "Sports & Outdoor",
        0.7,
        (
            (
                "Outdoor Gear",
                150000,
                1,
                ("Hiking Jacket", "Camping Chair", "Tent 4P", "Trekking Poles"),
            ),
            ("Fitness", 45000, 2, ("Yoga Mat", "Dumbbell Set", "Running Tights", "Foam Roller")),
            ("Golf", 250000, 1, ("Golf Balls 12", "Driver", "Golf Gloves", "Caddie Bag")),
        ),
    ),
    (
        "Kids",
        0.7,
        (
            ("Toys", 39000, 2, ("Block Set", "Plush Toy", "Puzzle 500", "RC Car")),
            (
                "Baby Care",
                29000,
                3,
                ("Diapers Pack", "Baby Wipes", "Baby Lotion", "Feeding Bottle"),
            ),
        ),
    ),
)

BRANDS: dict[str, tuple[str, ...]] = {
    "Fashion": ("Hanbit", "Seoul Atelier", "Mirae Wear", "Bomnal"),
    "Beauty": ("Dasol Beauty", "Yeoreum Skin", "Haneul Lab"),
    "Food": ("Nongbu Farm", "Jeju Green", "Matjip"),
    "Home & Living": ("Ondol Living", "Sarang Home"),
    "Electronics": ("Hanguk Tech", "Nuri Electronics", "Byeol"),
    "Sports & Outdoor": ("Sanmaru", "Baram Sports", "Eagle Green"),
    "Kids": ("Aegi", "Kkumnamu"),
}
