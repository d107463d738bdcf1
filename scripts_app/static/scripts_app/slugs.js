// The slug the admin fills in from a job's name, spelt as the server spells it
// (scripts_app/jobs/slugs.py: "Бэкап базы данных" → "bekap-bazy-dannykh"): Cyrillic letters
// are transliterated with the server's table before Django's URLify does the rest.
'use strict';
{
    const djangoUrlify = window.URLify;
    function letters() {
        const node = document.getElementById('parseq-slug-letters');
        return node ? JSON.parse(node.textContent) : {};
    }
    if (djangoUrlify) {
        window.URLify = function(text, maxLength, allowUnicode) {
            const table = letters();
            const latin = Array.from(text, function(char) {
                const lower = char.toLowerCase();
                if (!(lower in table)) {
                    return char;
                }
                const spelt = table[lower] === '_' ? '' : table[lower];
                return char === lower ? spelt : spelt.charAt(0).toUpperCase() + spelt.slice(1);
            }).join('');
            return djangoUrlify(latin, maxLength, allowUnicode);
        };
    }
}
